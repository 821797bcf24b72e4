namespace DeepSharp.Kernels;

/// <summary>Gathers per-plane positions (max-pool argmax indices) from an [planes, inPlane] input.</summary>
internal static class PoolGather
{
    /// <summary>output[p, j] = input[p, indices[p, j]], or 0 where the index is −1 (a window of padding only).</summary>
    public static void Gather<T>(ReadOnlySpan<T> input, ReadOnlySpan<int> indices, Span<T> output, int planes, int inPlane, int outPlane)
        where T : unmanaged
    {
        if (input.Length != planes * inPlane || indices.Length < planes * outPlane || output.Length != planes * outPlane)
            throw new ArgumentException($"max_pool2d gather: lengths input {input.Length}, indices {indices.Length}, output {output.Length} do not match {planes} planes of {inPlane} → {outPlane}.");
        for (int p = 0; p < planes; p++)
        {
            var src = input.Slice(p * inPlane, inPlane);
            var idx = indices.Slice(p * outPlane, outPlane);
            var dst = output.Slice(p * outPlane, outPlane);
            for (int j = 0; j < dst.Length; j++)
            {
                int i = idx[j];
                dst[j] = i >= 0 ? src[i] : default;
            }
        }
    }
}
