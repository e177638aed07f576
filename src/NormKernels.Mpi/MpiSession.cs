using System;
using System.Reflection;
using System.Runtime.InteropServices;

namespace NormKernels.Mpi;

/// <summary>
/// MPI for a process started by <c>mpiexec</c>: loads MPICH under MPI.NET, initializes MPI, finalizes it on Dispose.
/// MPI.NET binds MS-MPI's library (<c>msmpi.dll</c>); on Linux, MPICH exports the same C ABI, so one import resolver on
/// MPI.NET's assembly maps that name to <c>libmpich.so.12</c>. Open MPI's ABI differs: it does not work.
/// </summary>
public sealed class MpiSession : IDisposable
{
    /// <summary>The library names tried, in order, for MPI.NET's imports on Linux (MPICH and its ABI-compatible builds).</summary>
    public static readonly string[] LinuxLibraries = ["libmpich.so.12", "libmpi.so.12"];

    /// <summary>What to install when no MPI library loads.</summary>
    public const string InstallHint =
        "MPI is not installed. NormKernels.Mpi needs MPICH (libmpich.so.12): on Debian/Ubuntu `apt-get install mpich libmpich-dev`, " +
        "then start the program with `mpiexec.mpich -n 3 dotnet YourApp.dll`. Open MPI is not ABI-compatible with MPI.NET; on Windows install MS-MPI.";

    private static readonly object Gate = new();
    private static bool _resolverSet;
    private static IntPtr _library;

    private readonly MPI.Environment _environment;

    private MpiSession(MPI.Environment environment)
    {
        _environment = environment;
        World = MPI.Communicator.world;
    }

    /// <summary>All the processes of the run.</summary>
    public MPI.Intracommunicator World { get; }

    /// <summary>This process's rank in <see cref="World"/>.</summary>
    public int Rank => World.Rank;

    /// <summary>The number of processes in <see cref="World"/>.</summary>
    public int Size => World.Size;

    /// <summary>True when an MPI library loads here; otherwise <paramref name="reason"/> says what to install.</summary>
    public static bool IsAvailable(out string reason)
    {
        lock (Gate)
        {
            if (_library != IntPtr.Zero || !OperatingSystem.IsLinux())
            {
                reason = "";
                return true;
            }
            foreach (string name in LinuxLibraries)
            {
                if (NativeLibrary.TryLoad(name, out _library))
                {
                    reason = "";
                    return true;
                }
            }
            reason = InstallHint;
            return false;
        }
    }

    /// <summary>Loads MPI (see the class remarks) and initializes it; one session per process.</summary>
    /// <exception cref="DllNotFoundException">No MPI library loads: the message says what to install.</exception>
    public static MpiSession Start(ref string[] args)
    {
        UseMpich();
        return new MpiSession(new MPI.Environment(ref args));
    }

    /// <summary>Sets the import resolver on MPI.NET's assembly (once); throws with <see cref="InstallHint"/> when no MPI library loads.</summary>
    public static void UseMpich()
    {
        if (!IsAvailable(out string reason)) throw new DllNotFoundException(reason);
        lock (Gate)
        {
            if (_resolverSet || !OperatingSystem.IsLinux()) return;
            NativeLibrary.SetDllImportResolver(typeof(MPI.Communicator).Assembly, Resolve);
            _resolverSet = true;
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName.StartsWith("msmpi", StringComparison.OrdinalIgnoreCase) ? _library : IntPtr.Zero;

    /// <summary>Finalizes MPI.</summary>
    public void Dispose() => _environment.Dispose();
}
