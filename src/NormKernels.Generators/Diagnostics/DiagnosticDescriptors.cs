using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace NormKernels.Generators.Diagnostics
{
    /// <summary>
    /// Every diagnostic NormKernels reports, all of them from the generators (there is no analyzer): <c>NK00nn</c> are
    /// usage mistakes the parsers find, <c>NK09nn</c> internal failures. Every <c>[Normalize]</c> rule message takes one
    /// argument: <see cref="LayoutProblem.Detail"/>.
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        public const string UsageCategory = "NormKernels.Usage";
        public const string GeneratorCategory = "NormKernels.Generator";

        /// <summary>Help links point at the anchor of the id, in lower case, in docs/diagnostics.md.</summary>
        private const string HelpBase = "https://github.com/normkernels/normkernels/blob/main/docs/diagnostics.md#";

        /// <summary>{0}: the type name.</summary>
        public static readonly DiagnosticDescriptor TypeNotPartial = new DiagnosticDescriptor(
            id: "NK0001",
            title: "Type with [Normalize] must be partial",
            messageFormat: "'{0}' carries [Normalize] but is not partial; expected 'partial class {0}' so the generator can add the layer's members",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0001");

        /// <summary>{0}: the Layout value, quoted.</summary>
        public static readonly DiagnosticDescriptor LayoutEmpty = new DiagnosticDescriptor(
            id: "NK0002",
            title: "Layout is empty",
            messageFormat: "Layout is {0}; expected one or more distinct upper-case axis letters in memory order, such as \"NCHW\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0002");

        /// <summary>{0}: the character and its position.</summary>
        public static readonly DiagnosticDescriptor LayoutInvalidLetter = new DiagnosticDescriptor(
            id: "NK0003",
            title: "Layout has a character that is not an upper-case letter",
            messageFormat: "Layout has {0}, which is not an upper-case ASCII letter; expected letters A to Z only, such as \"NCHW\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0003");

        /// <summary>{0}: the repeated letter.</summary>
        public static readonly DiagnosticDescriptor LayoutDuplicateLetter = new DiagnosticDescriptor(
            id: "NK0004",
            title: "Layout repeats a letter",
            messageFormat: "Layout repeats {0}; expected each axis letter once",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0004");

        /// <summary>{0}: the Axes value, quoted.</summary>
        public static readonly DiagnosticDescriptor AxesEmpty = new DiagnosticDescriptor(
            id: "NK0005",
            title: "Axes is missing or empty",
            messageFormat: "Axes is {0}; expected the reduced axes as comma-separated letters of Layout, such as Axes = \"N,H,W\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0005");

        /// <summary>{0}: the token, quoted.</summary>
        public static readonly DiagnosticDescriptor AxesInvalidToken = new DiagnosticDescriptor(
            id: "NK0006",
            title: "Axes has a token that is not a single upper-case letter",
            messageFormat: "Axes has the token {0}, which is not a single upper-case letter; expected comma-separated letters of Layout, such as \"N,H,W\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0006");

        /// <summary>{0}: the letter and the layout.</summary>
        public static readonly DiagnosticDescriptor AxesLetterNotInLayout = new DiagnosticDescriptor(
            id: "NK0007",
            title: "Axes names a letter that is not in Layout",
            messageFormat: "Axes names {0}, which is not a letter of the layout; expected only letters of Layout",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0007");

        /// <summary>{0}: the repeated letter.</summary>
        public static readonly DiagnosticDescriptor AxesDuplicateLetter = new DiagnosticDescriptor(
            id: "NK0008",
            title: "Axes repeats a letter",
            messageFormat: "Axes repeats {0}; expected each reduced axis once",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0008");

        /// <summary>{0}: the Groups value.</summary>
        public static readonly DiagnosticDescriptor GroupsNotPositive = new DiagnosticDescriptor(
            id: "NK0009",
            title: "Groups is not positive",
            messageFormat: "Groups is {0}; expected a positive number of channel groups, or no Groups argument",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0009");

        /// <summary>{0}: why C is not reduced.</summary>
        public static readonly DiagnosticDescriptor GroupsWithoutChannelReduced = new DiagnosticDescriptor(
            id: "NK0010",
            title: "Groups needs C among Axes",
            messageFormat: "Groups splits the channel axis, but {0}; expected a layout with C and C among Axes, such as Axes = \"C,H,W\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0010");

        /// <summary>{0}: the Kind value.</summary>
        public static readonly DiagnosticDescriptor KindUndefined = new DiagnosticDescriptor(
            id: "NK0011",
            title: "Kind is not a defined NormKind",
            messageFormat: "Kind is {0}, which is not a defined NormKind; expected NormKind.Standardize or NormKind.RootMeanSquare",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0011");

        /// <summary>{0}: the Affine value.</summary>
        public static readonly DiagnosticDescriptor AffineUndefined = new DiagnosticDescriptor(
            id: "NK0012",
            title: "Affine is not a defined AffineMode",
            messageFormat: "Affine is {0}, which is not a defined AffineMode; expected AffineMode.PerChannel, AffineMode.Elementwise or AffineMode.None",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0012");

        /// <summary>{0}: the layout without C.</summary>
        public static readonly DiagnosticDescriptor PerChannelWithoutChannel = new DiagnosticDescriptor(
            id: "NK0013",
            title: "Affine is PerChannel but Layout has no C",
            messageFormat: "Affine is PerChannel (the default), but {0}; expected a layout with C, or Affine = AffineMode.Elementwise or AffineMode.None",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0013");

        /// <summary>{0}: the layout with only N.</summary>
        public static readonly DiagnosticDescriptor ElementwiseWithoutSampleAxes = new DiagnosticDescriptor(
            id: "NK0014",
            title: "Affine is Elementwise but Layout has no axis besides N",
            messageFormat: "Affine is Elementwise, but {0}; expected a layout with an axis besides N, or Affine = AffineMode.None",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0014");

        /// <summary>{0}: the Epsilon value, round-trip formatted.</summary>
        public static readonly DiagnosticDescriptor EpsilonNotPositive = new DiagnosticDescriptor(
            id: "NK0015",
            title: "Epsilon is not a positive finite float",
            messageFormat: "Epsilon is {0}; expected a finite number greater than 0 that stays so as a float, such as the default 1e-5",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0015");

        /// <summary>{0}: the Momentum value, round-trip formatted.</summary>
        public static readonly DiagnosticDescriptor MomentumOutOfRange = new DiagnosticDescriptor(
            id: "NK0016",
            title: "Momentum is outside [0, 1]",
            messageFormat: "Momentum is {0}; expected a number from 0 to 1, such as the default 0.1",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0016");

        /// <summary>{0}: the Axes that reduce N.</summary>
        public static readonly DiagnosticDescriptor RootMeanSquareWithBatchReduced = new DiagnosticDescriptor(
            id: "NK0017",
            title: "Kind is RootMeanSquare but Axes reduce N",
            messageFormat: "Kind is RootMeanSquare, but {0}, and RMS normalization keeps no running statistics for inference; expected Axes without N, such as Axes = \"C\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0017");

        /// <summary>{0}: the kept axes.</summary>
        public static readonly DiagnosticDescriptor RunningStatisticsUnsized = new DiagnosticDescriptor(
            id: "NK0018",
            title: "Running statistics have no size known at construction",
            messageFormat: "Axes reduce N, so running statistics are kept, but their count is not known at construction with {0}; expected Axes that keep only C (BatchNorm), keep nothing, or, with Affine = AffineMode.Elementwise, keep every axis besides N; or TrackRunningStats = false",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0018");

        /// <summary>{0}: the type name; {1}: what it is ("generic", "static", "a struct", ...).</summary>
        public static readonly DiagnosticDescriptor UnsupportedType = new DiagnosticDescriptor(
            id: "NK0019",
            title: "Type with [Normalize] must be a non-generic, non-static, non-abstract class",
            messageFormat: "'{0}' is {1}; expected a non-generic, non-static, non-abstract partial class",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0019");

        /// <summary>{0}: the containing type name; {1}: the annotated type name.</summary>
        public static readonly DiagnosticDescriptor ContainingTypeNotPartial = new DiagnosticDescriptor(
            id: "NK0020",
            title: "Type containing a [Normalize] type must be partial",
            messageFormat: "'{0}' contains the [Normalize] type '{1}' but is not partial; expected 'partial' on every containing type",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0020");

        /// <summary>{0}: the type named by ElementType.</summary>
        public static readonly DiagnosticDescriptor ElementTypeUnsupported = new DiagnosticDescriptor(
            id: "NK0021",
            title: "ElementType is not supported",
            messageFormat: "ElementType is '{0}'; expected {1}",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0021");

        /// <summary>{0}: the Layout value, quoted.</summary>
        public static readonly DiagnosticDescriptor LrnLayoutWithoutChannel = new DiagnosticDescriptor(
            id: "NK0022",
            title: "[LocalResponseNormalize] Layout has no C",
            messageFormat: "Layout is {0}; expected a layout with a C axis for the window to slide along, such as \"NCHW\" or \"NHWC\"",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0022");

        /// <summary>{0}: the Size value.</summary>
        public static readonly DiagnosticDescriptor LrnSizeNotPositive = new DiagnosticDescriptor(
            id: "NK0023",
            title: "[LocalResponseNormalize] Size is not positive",
            messageFormat: "Size is {0}; expected a window of at least 1 channel",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0023");

        /// <summary>{0}: "Alpha is NaN" and the like.</summary>
        public static readonly DiagnosticDescriptor LrnNotFinite = new DiagnosticDescriptor(
            id: "NK0024",
            title: "[LocalResponseNormalize] Alpha, Beta or K is not finite",
            messageFormat: "{0}; expected a finite number",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0024");

        /// <summary>{0}: the K value.</summary>
        public static readonly DiagnosticDescriptor LrnKNotPositive = new DiagnosticDescriptor(
            id: "NK0025",
            title: "[LocalResponseNormalize] K is not positive",
            messageFormat: "K is {0}; a window of zeros then divides by 0^Beta (NaN or infinite outputs, as in PyTorch); K > 0 is expected",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Warning,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0025");

        /// <summary>{0}: the type name.</summary>
        public static readonly DiagnosticDescriptor TypeNameReserved = new DiagnosticDescriptor(
            id: "NK0026",
            title: "Layer is named like a member the generator adds",
            messageFormat: "'{0}' is the name of a member the generator adds to the layer, and a member cannot be named like its type; expected another type name",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0026");

        /// <summary>{0}: the keyword; {1}: the type that captures it.</summary>
        public static readonly DiagnosticDescriptor KeywordCaptured = new DiagnosticDescriptor(
            id: "NK0027",
            title: "A type in scope of the layer is named like a keyword the generated code uses",
            messageFormat: "The type '{1}' is in scope of the layer, so '{0}' in the generated code would mean that type instead of the keyword; expected no type named '{0}' where the layer is declared",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0027");

        /// <summary>{0}: the type name.</summary>
        public static readonly DiagnosticDescriptor PrimaryConstructor = new DiagnosticDescriptor(
            id: "NK0028",
            title: "Layer has a primary constructor",
            messageFormat: "'{0}' has a primary constructor, which the generated constructor cannot call; expected no parameter list on the layer (add a constructor that calls the generated one instead)",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0028");

        /// <summary>{0}: the member ("'Weight'", "a constructor (int, float, float)"); {1}: the type name.</summary>
        public static readonly DiagnosticDescriptor MemberConflict = new DiagnosticDescriptor(
            id: "NK0029",
            title: "Layer declares a member the generator adds",
            messageFormat: "'{1}' declares {0}, which the generator adds to the layer; expected another name (or, for a constructor, other parameters)",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0029");

        /// <summary>{0}: the type name; {1}: its layer attributes ("[Normalize] and [LocalResponseNormalize]").</summary>
        public static readonly DiagnosticDescriptor BothAttributes = new DiagnosticDescriptor(
            id: "NK0030",
            title: "Type has more than one layer attribute",
            messageFormat: "'{0}' has {1}, which would each add a constructor, Forward and Backward; expected one layer attribute per class",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0030");

        /// <summary>{0}: the Axes that cover a sample.</summary>
        public static readonly DiagnosticDescriptor AffineImplicitOverSample = new DiagnosticDescriptor(
            id: "NK0031",
            title: "Affine must be written when Axes are every axis of a sample",
            messageFormat: "{0} are every axis of a sample but N (a LayerNorm), and Affine is not written; expected Affine = AffineMode.Elementwise " +
                           "(one weight per element of a sample: PyTorch's nn.LayerNorm over these dims), AffineMode.PerChannel " +
                           "(one weight per channel: PyTorch's nn.GroupNorm(1, C)) or AffineMode.None",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0031");

        /// <summary>{0}: the Axes that keep N.</summary>
        public static readonly DiagnosticDescriptor RunningStatisticsWithoutBatch = new DiagnosticDescriptor(
            id: "NK0032",
            title: "TrackRunningStats is true but Axes do not reduce N",
            messageFormat: "TrackRunningStats is true, but {0}: only a layer that reduces N (BatchNorm) keeps running statistics, and " +
                           "this one normalizes every sample with its own statistics in training and inference; expected Axes with N, " +
                           "or no TrackRunningStats",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0032");
        /// <summary>{0}: the Axes and the Layout.</summary>
        public static readonly DiagnosticDescriptor WeightNormNothingKept = new DiagnosticDescriptor(
            id: "NK0033",
            title: "[WeightNormalize] Axes reduce every axis of Layout",
            messageFormat: "{0}, so no axis is left to index g; expected at least one kept axis, such as Axes = \"I,H,W\" on \"OIHW\" (one norm per output channel, PyTorch's dim = 0)",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0033");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor ActivationUndefined = new DiagnosticDescriptor(
            id: "NK0040",
            title: "Activation is not a NormActivation value",
            messageFormat: "Activation {0} is not a NormActivation value; expected None, Relu, Silu, Gelu or GeluTanh",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0040");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor ResidualUndefined = new DiagnosticDescriptor(
            id: "NK0041",
            title: "Residual is not a ResidualMode value",
            messageFormat: "Residual {0} is not a ResidualMode value; expected None, AddBeforeNorm or AddAfterNorm",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0041");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor SizesMalformed = new DiagnosticDescriptor(
            id: "NK0042",
            title: "Sizes is not a list of LETTER=value entries",
            messageFormat: "Sizes {0} is not a list of LETTER=value entries separated by commas; expected for example C=768 or H=8,W=8",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0042");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor SizesLetterNotInLayout = new DiagnosticDescriptor(
            id: "NK0043",
            title: "Sizes fixes a letter that is not in Layout",
            messageFormat: "Sizes fixes {0}, which is not a letter of the layout; expected letters of Layout",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0043");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor SizesNotPositive = new DiagnosticDescriptor(
            id: "NK0044",
            title: "Sizes gives a value that is not a positive int",
            messageFormat: "Sizes gives {0}; expected a positive int",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0044");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor SizesDuplicate = new DiagnosticDescriptor(
            id: "NK0045",
            title: "Sizes fixes a letter twice",
            messageFormat: "Sizes fixes {0} twice; expected each letter once",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0045");

        /// <summary>{0}: the detail.</summary>
        public static readonly DiagnosticDescriptor SizesContradictsGroups = new DiagnosticDescriptor(
            id: "NK0046",
            title: "Sizes fixes C to a value that is not a multiple of Groups",
            messageFormat: "Sizes fixes {0}, which Groups does not divide; expected C a multiple of Groups",
            category: UsageCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0046");

        /// <summary>{0}: the type name; {1}: the exception type; {2}: the exception message.</summary>
        public static readonly DiagnosticDescriptor InternalGeneratorError = new DiagnosticDescriptor(
            id: "NK0900",
            title: "Internal generator error",
            messageFormat: "The NormKernels generator failed on '{0}': {1}: {2}. Please report this.",
            category: GeneratorCategory,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            helpLinkUri: HelpBase + "nk0900");

        /// <summary>Every descriptor above, by id (the pipeline carries ids, not descriptors).</summary>
        private static readonly Dictionary<string, DiagnosticDescriptor> Descriptors = typeof(DiagnosticDescriptors)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null))
            .ToDictionary(d => d.Id, StringComparer.Ordinal);

        /// <summary>The descriptor of <paramref name="id"/>.</summary>
        public static DiagnosticDescriptor ById(string id) => Descriptors[id];

        /// <summary>The descriptor for a <see cref="LayoutProblem"/>; its message takes the problem's <see cref="LayoutProblem.Detail"/>.</summary>
        public static DiagnosticDescriptor For(LayoutProblemKind kind)
        {
            switch (kind)
            {
                case LayoutProblemKind.LayoutEmpty: return LayoutEmpty;
                case LayoutProblemKind.LayoutInvalidLetter: return LayoutInvalidLetter;
                case LayoutProblemKind.LayoutDuplicateLetter: return LayoutDuplicateLetter;
                case LayoutProblemKind.AxesEmpty: return AxesEmpty;
                case LayoutProblemKind.AxesInvalidToken: return AxesInvalidToken;
                case LayoutProblemKind.AxesLetterNotInLayout: return AxesLetterNotInLayout;
                case LayoutProblemKind.AxesDuplicateLetter: return AxesDuplicateLetter;
                case LayoutProblemKind.GroupsNotPositive: return GroupsNotPositive;
                case LayoutProblemKind.GroupsWithoutChannelReduced: return GroupsWithoutChannelReduced;
                case LayoutProblemKind.KindUndefined: return KindUndefined;
                case LayoutProblemKind.AffineUndefined: return AffineUndefined;
                case LayoutProblemKind.PerChannelWithoutChannel: return PerChannelWithoutChannel;
                case LayoutProblemKind.ElementwiseWithoutSampleAxes: return ElementwiseWithoutSampleAxes;
                case LayoutProblemKind.EpsilonNotPositive: return EpsilonNotPositive;
                case LayoutProblemKind.MomentumOutOfRange: return MomentumOutOfRange;
                case LayoutProblemKind.RootMeanSquareWithBatchReduced: return RootMeanSquareWithBatchReduced;
                case LayoutProblemKind.RunningStatisticsUnsized: return RunningStatisticsUnsized;
                case LayoutProblemKind.AffineImplicitOverSample: return AffineImplicitOverSample;
                case LayoutProblemKind.RunningStatisticsWithoutBatch: return RunningStatisticsWithoutBatch;
                case LayoutProblemKind.ActivationUndefined: return ActivationUndefined;
                case LayoutProblemKind.ResidualUndefined: return ResidualUndefined;
                case LayoutProblemKind.SizesMalformed: return SizesMalformed;
                case LayoutProblemKind.SizesLetterNotInLayout: return SizesLetterNotInLayout;
                case LayoutProblemKind.SizesNotPositive: return SizesNotPositive;
                case LayoutProblemKind.SizesDuplicate: return SizesDuplicate;
                case LayoutProblemKind.SizesContradictsGroups: return SizesContradictsGroups;
                default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "No descriptor for this LayoutProblemKind.");
            }
        }

        /// <summary>The diagnostic for a <see cref="LayoutProblem"/> at <paramref name="location"/>.</summary>
        public static Diagnostic Create(LayoutProblem problem, Location? location) =>
            Diagnostic.Create(For(problem.Kind), location, problem.Detail);
    }
}
