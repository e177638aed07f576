namespace NormKernels.Generators.Emitting;

/// <summary>
/// What a training loop needs around the kernels, with PyTorch's names and semantics: the parameters for an optimizer, the
/// state_dict, and for layers with running statistics the batch count and reset_running_stats; ToString describes the layer
/// like a module's repr. Each a one-line forwarder to the runtime's <c>NormLayer</c> (NormLayer.Module.cs).
/// </summary>
internal static partial class Emitter
{
    private const string StateType = "global::System.Collections.Generic.IReadOnlyDictionary<string, double[]>";

    private static void EmitModule(SourceWriter w, Context ctx)
    {
        string t = ctx.T;
        w.Line("/// <summary>The learned parameters with PyTorch's names, for an optimizer: " + (ctx.Spec.HasAffine
            ? "<c>weight</c> (<see cref=\"Weight\"/>, <see cref=\"WeightGrad\"/>) then <c>bias</c> (<see cref=\"Bias\"/>, <see cref=\"BiasGrad\"/>). " +
              "The arrays are the layer's own: a step written into them is the layer's new parameter."
            : "none (this layer has no affine parameters).") + " The same list on every call.</summary>");
        w.Line("public global::System.Collections.Generic.IReadOnlyList<global::NormKernels.LayerParameter<" + t + ">> Parameters() => _layer.Parameters();");

        string keys = (ctx.Spec.HasAffine ? "<c>weight</c>, <c>bias</c>" : "") +
                      (ctx.Running ? (ctx.Spec.HasAffine ? ", " : "") + "<c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c> (the count as one value)" : "");
        w.Line("/// <summary>A copy of the layer's state under PyTorch's state_dict keys: " + (keys.Length > 0 ? keys : "none (the layer has no parameters or running statistics)") +
               ". Values are doubles (exact for the layer's values" + (ctx.Running ? " and the count" : "") + "), in the layer's order. May run alongside " +
               "inference-mode Forward calls; refused (InvalidOperationException) while a call that writes the state runs.</summary>");
        w.Line("public " + StateType + " StateDict() => _layer.StateDict();");
        w.Line("/// <summary>Loads a state with exactly the keys of <see cref=\"StateDict\"/>, each of its length (num_batches_tracked: one non-negative whole number), " +
               "as PyTorch's strict load_state_dict. Every key and length is checked first: a missing, unknown, null or wrong-length entry throws ArgumentException " +
               "(ParamName \"state\") naming its key, and nothing is changed. Values are rounded to " + t + ". Needs the instance alone.</summary>");
        w.Line("public void LoadStateDict(" + StateType + " state) => _layer.LoadStateDict(state);");
        if (ctx.Running)
        {
            w.Line("/// <summary>PyTorch's num_batches_tracked: the training-mode Forward (and ForwardWithStatistics) calls that updated the running statistics " +
                   "since construction (ResetRunningStats sets it to 0, LoadStateDict to the loaded count). With a null Momentum each update weighs its batch by 1 / NumBatchesTracked.</summary>");
            w.Line("public long NumBatchesTracked => _layer.NumBatchesTracked;");
            w.Line("/// <summary>PyTorch's reset_running_stats: RunningMean = 0, RunningVar = 1, NumBatchesTracked = 0 (Weight and Bias unchanged). Needs the instance alone.</summary>");
            w.Line("public void ResetRunningStats() => _layer.ResetRunningStats();");
        }
        w.Line("/// <summary>The layer like PyTorch's module repr: type, family, layout, axes" + (ctx.Spec.Groups > 0 ? ", groups" : "") +
               (ctx.SizeParam.Length > 0 ? ", size" : "") + ", eps" + (ctx.Running ? ", momentum" : "") + ", affine" +
               (ctx.Plan.BatchReduced ? ", track_running_stats" : "") + ".</summary>");
        w.Line("public override string ToString() => _layer.ToString();");
        w.Line();
    }
}
