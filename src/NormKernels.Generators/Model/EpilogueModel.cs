namespace NormKernels.Generators.Model;

/// <summary>The attribute's <c>Activation</c> (the runtime's <c>NormActivation</c>, whose values it mirrors).</summary>
internal enum ActivationId
{
    None = 0,
    Relu = 1,
    Silu = 2,
    Gelu = 3,
    GeluTanh = 4,
}

/// <summary>The attribute's <c>Residual</c> (the runtime's <c>ResidualMode</c>, whose values it mirrors).</summary>
internal enum ResidualId
{
    None = 0,
    AddBeforeNorm = 1,
    AddAfterNorm = 2,
}

/// <summary>
/// What follows the norm in the output pass: the one model entry per activation, and where the residual is added. The
/// planner picks it into the plan; the emitter reads its data (the kind's runtime type, which surface the residual takes)
/// and never asks which activation it has. A new epilogue is a new entry here and the runtime operator struct it names
/// (<c>IActivation</c>).
/// </summary>
/// <param name="Activation">Its <c>NormActivation</c> member.</param>
/// <param name="RuntimeType">The runtime's <c>IActivation</c> struct.</param>
/// <param name="Description">How the class remarks name it.</param>
/// <param name="Residual">Where the residual is added.</param>
internal sealed record EpilogueModel(string Activation, string RuntimeType, string Description, ResidualId Residual)
{
    private static readonly (string Member, string Type, string Text)[] Activations =
    {
        ("None", "Identity", ""),
        ("Relu", "Relu", "ReLU"),
        ("Silu", "Silu", "SiLU"),
        ("Gelu", "Gelu", "GELU (erf)"),
        ("GeluTanh", "GeluTanh", "GELU (tanh approximation)"),
    };

    /// <summary>No epilogue: the plain norm.</summary>
    public static readonly EpilogueModel None = For(ActivationId.None, ResidualId.None);

    /// <summary>The entry of the attribute's values.</summary>
    public static EpilogueModel For(ActivationId activation, ResidualId residual)
    {
        var entry = Activations[(int)activation];
        return new EpilogueModel(entry.Member, entry.Type, entry.Text, residual);
    }

    /// <summary>Nothing follows the norm.</summary>
    public bool IsNone => Activation == "None" && Residual == ResidualId.None;

    /// <summary>The apply adds the residual.</summary>
    public bool AddsAfter => Residual == ResidualId.AddAfterNorm;

    /// <summary>A pass before the norm writes input + residual.</summary>
    public bool AddsBefore => Residual == ResidualId.AddBeforeNorm;

    /// <summary>The layer's kind type: the plain <paramref name="baseType"/>, or <c>Fused&lt;base, activation, residual&gt;</c>.</summary>
    public string KindType(string runtime, string baseType) => IsNone ? baseType
        : runtime + ".Fused<" + baseType + ", " + runtime + "." + RuntimeType + ", " + runtime + "." + (AddsAfter ? "AddAfterNorm" : AddsBefore ? "AddBeforeNorm" : "NoResidual") + ">";

    /// <summary>The epilogue as the class remarks state it.</summary>
    public string Text => IsNone ? "" : (AddsBefore ? "sum = input + residual written first, the norm over the sum; " : "") +
        "output = " + (Description.Length > 0 ? Description + "(" : "") + "norm" + (AddsAfter ? " + residual" : "") + (Description.Length > 0 ? ")" : "") +
        " in the apply pass; Backward takes the gradient through it first, recomputing the pre-activation from the input and the saved statistics";
}
