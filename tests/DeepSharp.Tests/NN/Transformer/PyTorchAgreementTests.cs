using DeepSharp.NN;
using static DeepSharp.Tests.NN.Transformer.TransformerTestUtil;
using TransformerModel = DeepSharp.NN.Transformer;

namespace DeepSharp.Tests.NN.Transformer;

/// <summary>
/// Same weights, same input, same output as PyTorch 1.13: each case's state dict (saved by
/// docs/transformer_reference.py under PyTorch's names) is loaded strictly by name, then outputs and gradients are
/// compared. Float64 agrees to ~1e-15; float32 to ~1e-6.
/// </summary>
[TestFixture]
public class PyTorchAgreementTests
{
    private const double Tol64 = 1e-12, Tol32 = 5e-6;

    [TestCase("mha", 1e-12)]
    [TestCase("mha_f32", Tol32)]
    public void MultiheadAttentionMatchesPyTorch(string name, double tol)
    {
        var c = Load(name);
        var dtype = c.Inputs["q"].DType;
        var m = new MultiheadAttention(8, 2, dtype: dtype);
        m.LoadStateDict(c.State);
        Tensor q = c.Inputs["q"], kv = c.Inputs["kv"], x = c.Inputs["x"], kpm = c.Inputs["kpm"];
        var (o, w) = m.Forward(q, kv, kv);
        AssertClose(o, c.Outputs["plain"], tol, "plain output");
        AssertClose(w!, c.Outputs["plain_weights"], tol, "plain weights (averaged)");
        (o, w) = m.Forward(q, kv, kv, keyPaddingMask: kpm, averageAttnWeights: false);
        AssertClose(o, c.Outputs["kpm"], tol, "key padding mask");
        AssertClose(w!, c.Outputs["kpm_weights_per_head"], tol, "per-head weights");
        (o, w) = m.Forward(q, kv, kv, attnMask: c.Inputs["bool_mask"]);
        AssertClose(o, c.Outputs["bool_mask"], tol, "bool attn mask");
        AssertClose(w!, c.Outputs["bool_mask_weights"], tol, "bool attn mask weights");
        (o, _) = m.Forward(q, kv, kv, keyPaddingMask: kpm, attnMask: c.Inputs["float_mask"]);
        AssertClose(o, c.Outputs["float_mask_kpm"], tol, "float attn mask + key padding");
        (o, _) = m.Forward(q, kv, kv, attnMask: c.Inputs["mask3"]);
        AssertClose(o, c.Outputs["mask3"], tol, "3-D bool mask [N·H, L, S]");
        var causal = TransformerModel.GenerateSquareSubsequentMask(4, dtype);
        (o, w) = m.Forward(x, x, x, attnMask: causal);
        AssertClose(o, c.Outputs["self_causal"], tol, "causal self-attention");
        AssertClose(w!, c.Outputs["self_causal_weights"], tol, "causal weights");
        (o, _) = m.Forward(x, x, x, isCausal: true);
        AssertClose(o, c.Outputs["self_causal"], tol, "isCausal");

        var xg = x.Detach().Clone().RequiresGrad_();
        var kpm2 = Tensor.FromArray(new[] { false, false, false, false, false, false, false, true }, 2, 4);
        (o, _) = m.Forward(xg, xg, xg, kpm2, attnMask: causal);
        (o * o).Sum().Backward();
        AssertClose(xg.Grad!, c.Grads["input"], tol * 10, "d/dx");
        AssertClose(m.InProjWeight!.Grad!, c.Grads["in_proj_weight"], tol * 10, "d/d in_proj_weight");
        AssertClose(m.InProjBias!.Grad!, c.Grads["in_proj_bias"], tol * 10, "d/d in_proj_bias");
        AssertClose(m.OutProj.Weight.Grad!, c.Grads["out_proj.weight"], tol * 10, "d/d out_proj.weight");
    }

    [Test]
    public void MultiheadAttentionWithKdimVdimMatchesPyTorch()
    {
        var c = Load("mha_kvdim");
        var m = new MultiheadAttention(8, 2, batchFirst: true, kdim: 6, vdim: 5, dtype: DType.Float64);
        Assert.That(m.StateDict().Keys, Is.EqualTo(new[] { "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias" }));
        m.LoadStateDict(c.State);
        var (o, w) = m.Forward(c.Inputs["q"], c.Inputs["k"], c.Inputs["v"], c.Inputs["kpm"]);
        AssertClose(o, c.Outputs["out"], Tol64, "output");
        AssertClose(w!, c.Outputs["weights"], Tol64, "weights");
    }

    [TestCase("enc_post_relu_sf")]
    [TestCase("enc_post_relu_bf")]
    [TestCase("enc_post_gelu_sf")]
    [TestCase("enc_post_gelu_bf")]
    [TestCase("enc_pre_relu_sf")]
    [TestCase("enc_pre_relu_bf")]
    [TestCase("enc_pre_gelu_sf")]
    [TestCase("enc_pre_gelu_bf")]
    [TestCase("enc_post_relu_sf_f32")]
    [TestCase("enc_pre_relu_sf_f32")]
    public void EncoderLayerMatchesPyTorch(string name)
    {
        var c = Load(name);
        var dtype = c.Inputs["x"].DType;
        double tol = dtype == DType.Float64 ? Tol64 : Tol32;
        var layer = new TransformerEncoderLayer(8, 2, dimFeedforward: 16, dropout: 0, activation: c.Metadata["activation"],
            batchFirst: c.Metadata["batch_first"] == "True", normFirst: c.Metadata["norm_first"] == "True", dtype: dtype);
        layer.LoadStateDict(c.State); // strict: every PyTorch name must exist here, and vice versa
        var x = c.Inputs["x"].Clone().RequiresGrad_();
        var y = layer.Forward(x, null, c.Inputs["kpm"]);
        AssertClose(y, c.Outputs["out"], tol, name + " output");
        (y * y).Sum().Backward();
        AssertClose(x.Grad!, c.Grads["input"], tol * 10, name + " d/dx");
        AssertClose(layer.SelfAttn.InProjWeight!.Grad!, c.Grads["self_attn.in_proj_weight"], tol * 10, name + " d/d self_attn.in_proj_weight");
        AssertClose(layer.Linear1.Weight.Grad!, c.Grads["linear1.weight"], tol * 10, name + " d/d linear1.weight");
        AssertClose(layer.Norm1.Weight!.Grad!, c.Grads["norm1.weight"], tol * 10, name + " d/d norm1.weight");
    }

    [TestCase("dec_post", false)]
    [TestCase("dec_pre", true)]
    public void DecoderLayerMatchesPyTorch(string name, bool normFirst)
    {
        var c = Load(name);
        var layer = new TransformerDecoderLayer(8, 2, dimFeedforward: 16, dropout: 0, batchFirst: true, normFirst: normFirst, dtype: DType.Float64);
        layer.LoadStateDict(c.State);
        var tgt = c.Inputs["tgt"].Clone().RequiresGrad_();
        var y = layer.Forward(tgt, c.Inputs["memory"], c.Inputs["tgt_mask"], memoryKeyPaddingMask: c.Inputs["mkpm"]);
        AssertClose(y, c.Outputs["out"], Tol64, name + " output");
        (y * y).Sum().Backward();
        AssertClose(tgt.Grad!, c.Grads["input"], Tol64 * 10, name + " d/d tgt");
        AssertClose(layer.MultiheadAttn.InProjWeight!.Grad!, c.Grads["multihead_attn.in_proj_weight"], Tol64 * 10, name + " d/d multihead_attn.in_proj_weight");
        AssertClose(layer.Linear2.Weight.Grad!, c.Grads["linear2.weight"], Tol64 * 10, name + " d/d linear2.weight");
        AssertClose(layer.Norm3.Bias!.Grad!, c.Grads["norm3.bias"], Tol64 * 10, name + " d/d norm3.bias");

        // tgtIsCausal without a mask is the same as the causal mask.
        var y2 = layer.Forward(c.Inputs["tgt"], c.Inputs["memory"], null, memoryKeyPaddingMask: c.Inputs["mkpm"], tgtIsCausal: true);
        AssertClose(y2, c.Outputs["out"], Tol64, name + " tgtIsCausal");
    }

    [Test]
    public void TwoLayerPreLnEncoderStackMatchesPyTorch()
    {
        var c = Load("encoder_stack");
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0, normFirst: true, dtype: DType.Float64);
        var enc = new TransformerEncoder(layer, 2, new LayerNorm(8, dtype: DType.Float64));
        Assert.That(enc.StateDict().Keys, Does.Contain("layers.1.self_attn.in_proj_weight").And.Contain("norm.weight"));
        enc.LoadStateDict(c.State);
        AssertClose(enc.Forward(c.Inputs["x"], c.Inputs["mask"]), c.Outputs["out"], Tol64, "encoder stack");
    }

    [Test]
    public void FullTransformerMatchesPyTorch()
    {
        var c = Load("transformer");
        var model = new TransformerModel(8, 2, 2, 2, 16, dropout: 0, dtype: DType.Float64);
        Assert.That(model.StateDict().Keys, Is.EquivalentTo(c.State.Keys));
        model.LoadStateDict(c.State);
        var skpm = c.Inputs["skpm"];
        var y = model.Forward(c.Inputs["src"], c.Inputs["tgt"], null, c.Inputs["tgt_mask"], srcKeyPaddingMask: skpm, memoryKeyPaddingMask: skpm);
        AssertClose(y, c.Outputs["out"], Tol64, "transformer");
    }

    [Test]
    public void StateDictOrderIsPyTorchs()
    {
        var keys = Load("enc_post_relu_sf").State.Keys.ToArray(); // insertion order of the file = PyTorch's order
        var layer = new TransformerEncoderLayer(8, 2, 16);
        Assert.That(layer.StateDict().Keys, Is.EquivalentTo(keys));
        Assert.That(layer.StateDict().Keys, Is.EqualTo(new[]
        {
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
        }));
        var dec = new TransformerDecoderLayer(8, 2, 16);
        Assert.That(dec.StateDict().Keys, Is.EquivalentTo(Load("dec_post").State.Keys));
    }

    [Test]
    public void PositionalTableMatchesThePyTorchTutorial()
    {
        var c = Load("positional");
        AssertClose(PositionalEncoding.Table(5, 6), c.Outputs["pe"], 1e-15, "sinusoidal table");
    }
}
