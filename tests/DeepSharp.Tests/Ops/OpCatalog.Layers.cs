using DeepSharp.NN;
using DeepSharp.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace DeepSharp.Tests.Ops;

public static partial class OpCatalog
{
    /// <summary>Functional forms of layers: convolutions, normalisations, recurrent cells, padding and resampling.</summary>
    private static IEnumerable<OpInfo> LayerOps()
    {
        // ---- activations (every one is a composition, so second derivatives are checked too)
        yield return Unary("F.Elu", x => F.Elu(x, 0.7), s => Input(TensorGen.AwayFrom(s, [0.0], 0.05)), [], gradGrad: true);
        yield return Unary("F.Mish", F.Mish, s => Uniform(s, -3, 3), [], gradGrad: true);
        yield return Unary("F.Hardswish", F.Hardswish, s => Input(TensorGen.AwayFrom(s, [-3.0, 3.0], 0.1, F64, -4.5, 4.5)), [], gradGrad: true);
        yield return new OpInfo("F.Prelu",
            from shape in TensorGen.Shape(4, 3, minRank: 1)
            from shared in Gen.Elements(true, false)
            from x in Input(TensorGen.AwayFrom(shape, [0.0], 0.05))
            from w in Uniform([shared ? 1 : shape[shape.Length >= 2 ? 1 : 0]], -1, 1)
            select new OpSample($"Prelu {S(shape)} shared={shared}", [x, w], xs => F.Prelu(xs[0], xs[1])),
            [], GradGrad: true);

        // ---- rearrangements and similarity
        yield return new OpInfo("F.PixelShuffle",
            from r in Gen.Choose(1, 2)
            from lead in TensorGen.Shape(1, 2)
            from c in Gen.Choose(1, 2)
            from h in Gen.Choose(1, 2)
            from w in Gen.Choose(1, 3)
            from x in Uniform([.. lead, c * r * r, h, w])
            select new OpSample($"PixelShuffle r={r} of {S(x.Shape)}", [x], xs => F.PixelShuffle(xs[0], r)),
            []);
        yield return new OpInfo("F.PixelUnshuffle",
            from r in Gen.Choose(1, 2)
            from c in Gen.Choose(1, 2)
            from h in Gen.Choose(1, 2)
            from w in Gen.Choose(1, 2)
            from x in Uniform([2, c, h * r, w * r])
            select new OpSample($"PixelUnshuffle r={r} of {S(x.Shape)}", [x], xs => F.PixelUnshuffle(xs[0], r)),
            []);
        yield return new OpInfo("F.CosineSimilarity",
            from shapes in TensorGen.BroadcastPair()
            where TensorGen.BroadcastShape(shapes.Left, shapes.Right).Length >= 1
            from dim in TensorGen.Dim(TensorGen.BroadcastShape(shapes.Left, shapes.Right).Length)
            from a in AwayFromZero(shapes.Left, 0.3)
            from b in AwayFromZero(shapes.Right, 0.3)
            select new OpSample($"CosineSimilarity {S(shapes.Left)} with {S(shapes.Right)} dim {dim}", [a, b], xs => F.CosineSimilarity(xs[0], xs[1], dim)),
            [], GradGrad: true);

        // ---- normalisation
        yield return new OpInfo("F.GroupNorm",
            from n in Gen.Choose(1, 2)
            from groups in Gen.Choose(1, 3)
            from perGroup in Gen.Choose(1, 2)
            from spatial in TensorGen.Shape(2, 3)
            from affine in Gen.Elements(true, false)
            let c = groups * perGroup
            where perGroup * spatial.Aggregate(1, (p, d) => p * d) > 1
            from x in Distinct([n, c, .. spatial])
            from w in Uniform([c], 0.5, 1.5)
            from b in Uniform([c])
            select new OpSample($"GroupNorm groups={groups} of {S(x.Shape)} affine={affine}", affine ? [x, w, b] : [x],
                xs => F.GroupNorm(xs[0], groups, affine ? xs[1] : null, affine ? xs[2] : null)),
            [], GradGrad: true);
        yield return new OpInfo("F.RmsNorm",
            from shape in TensorGen.Shape(3, 4, minRank: 1)
            from k in Gen.Choose(1, shape.Length)
            from affine in Gen.Elements(true, false)
            from x in AwayFromZero(shape, 0.2)
            from w in Uniform(shape[^k..], 0.5, 1.5)
            select new OpSample($"RmsNorm over last {k} of {S(shape)} affine={affine}", affine ? [x, w] : [x],
                xs => F.RmsNorm(xs[0], shape[^k..], affine ? xs[1] : null, eps: 1e-6)),
            [], GradGrad: true);

        // ---- losses
        yield return new OpInfo("F.KlDiv",
            from shape in TensorGen.Shape(3, 4, minRank: 1)
            from reduction in Gen.Elements("none", "mean", "sum", "batchmean")
            from logTarget in Gen.Elements(true, false)
            from x in Uniform(shape, -3, 0)
            from t in Uniform(shape, 0.05, 1)
            select new OpSample($"KlDiv {S(shape)} {reduction} logTarget={logTarget}", [x, t],
                xs => F.KlDiv(xs[0], logTarget ? xs[1].Log() : xs[1], reduction, logTarget)),
            [], GradGrad: true);
        yield return new OpInfo("F.HuberLoss",
            from shape in AnyShape()
            from reduction in Gen.Elements("none", "mean", "sum")
            from delta in Gen.Elements(0.5, 1.0, 1.5)
            from target in TensorGen.Tensor(shape)
            from d in Input(TensorGen.AwayFrom(shape, [-delta, delta], 0.05, F64, -3, 3))
            select new OpSample($"HuberLoss {S(shape)} {reduction} delta={delta}", [d], xs => F.HuberLoss(xs[0] + target, target, reduction, delta)),
            [], GradGrad: true);

        // ---- convolutions and resampling
        yield return new OpInfo("ConvTranspose2d",
            from n in Gen.Choose(1, 2)
            from groups in Gen.Choose(1, 2)
            from inPer in Gen.Choose(1, 2)
            from outPer in Gen.Choose(1, 2)
            from kH in Gen.Choose(1, 3)
            from kW in Gen.Choose(1, 2)
            from sH in Gen.Choose(1, 2)
            from sW in Gen.Choose(1, 3)
            from dH in Gen.Choose(1, 2)
            from pH in Gen.Choose(0, 1)
            from opH in Gen.Choose(0, Math.Max(sH, dH) - 1)
            from opW in Gen.Choose(0, sW - 1)
            from h in Gen.Choose(1, 3)
            from w in Gen.Choose(1, 3)
            where (h - 1) * sH - 2 * pH + dH * (kH - 1) + opH + 1 >= 1 && (opH < sH || opH <= pH)
            from bias in Gen.Elements(true, false)
            from x in Uniform([n, groups * inPer, h, w])
            from wt in Uniform([groups * inPer, outPer, kH, kW])
            from b in Uniform([groups * outPer])
            select new OpSample($"ConvTranspose2d x {S(x.Shape)} w {S(wt.Shape)} groups={groups} stride=({sH},{sW}) padding=({pH},0) outputPadding=({opH},{opW}) dilation=({dH},1)",
                bias ? [x, wt, b] : [x, wt],
                xs => xs[0].ConvTranspose2d(xs[1], bias ? xs[2] : null, (sH, sW), (pH, 0), (opH, opW), groups, (dH, 1))),
            ["ConvTranspose2d"], MaxTest: 20, GradGrad: true);
        yield return new OpInfo("F.Conv1d",
            from n in Gen.Choose(1, 2)
            from groups in Gen.Choose(1, 2)
            from inPer in Gen.Choose(1, 2)
            from outPer in Gen.Choose(1, 2)
            from k in Gen.Choose(1, 3)
            from stride in Gen.Choose(1, 2)
            from padding in Gen.Choose(0, 2)
            from dilation in Gen.Choose(1, 2)
            from len in Gen.Choose(1, 6)
            where len + 2 * padding - dilation * (k - 1) >= 1
            from x in Uniform([n, groups * inPer, len])
            from w in Uniform([groups * outPer, inPer, k])
            from b in Uniform([groups * outPer])
            select new OpSample($"Conv1d x {S(x.Shape)} w {S(w.Shape)} stride={stride} padding={padding} dilation={dilation} groups={groups}", [x, w, b],
                xs => F.Conv1d(xs[0], xs[1], xs[2], stride, padding, dilation, groups)),
            []);
        yield return new OpInfo("F.Interpolate (Upsample shapes)",
            from h in Gen.Choose(1, 3)
            from w in Gen.Choose(1, 3)
            from mode in Gen.Elements("nearest", "bilinear")
            from corners in Gen.Elements<bool?>(null, true, false)
            from outH in Gen.Choose(1, 5)
            from outW in Gen.Choose(1, 5)
            from byScale in Gen.Elements(true, false)
            from x in Uniform([1, 2, h, w])
            let alignCorners = mode == "nearest" ? null : corners
            select new OpSample($"Interpolate {S(x.Shape)} {mode} alignCorners={alignCorners} {(byScale ? "scale 2" : $"size ({outH}, {outW})")}", [x],
                xs => byScale ? F.Interpolate(xs[0], scaleFactor: [2], mode: mode, alignCorners: alignCorners)
                              : F.Interpolate(xs[0], [outH, outW], mode: mode, alignCorners: alignCorners)),
            [], GradGrad: true);
        yield return new OpInfo("F.Dropout2d",
            from shape in Gen.Elements<int[]>([2, 3, 2, 2], [3, 4, 5], [1, 2, 1, 3])
            from p in Gen.Elements(0.3, 0.6)
            from seed in Gen.Choose(0, 1000)
            from x in Uniform(shape)
            select new OpSample($"Dropout2d {S(shape)} p={p} seed={seed}", [x], xs => F.Dropout2d(xs[0], p, true, new Generator(seed))),
            []);
    }
}
