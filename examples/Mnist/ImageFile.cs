using System.Globalization;
using System.Text;
using SkiaSharp;

namespace DeepSharp.Examples.Mnist;

/// <summary>A grey image with values in [0, 1] (0 black, 1 white), row-major.</summary>
public sealed record GreyImage(int Width, int Height, float[] Pixels);

/// <summary>Reads digit images for <c>predict</c>: PGM (P2/P5, parsed here) or PNG/JPEG/… (SkiaSharp).</summary>
public static class ImageFile
{
    /// <summary>Reads an image as grey levels in [0, 1]; transparent pixels count as white paper.</summary>
    public static GreyImage Read(string path)
    {
        if (!File.Exists(path)) throw new MnistException($"Image '{path}' does not exist.");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && (bytes[1] == (byte)'2' || bytes[1] == (byte)'5'))
            return ReadPgm(bytes, path);
        using var bitmap = SKBitmap.Decode(bytes)
            ?? throw new MnistException($"'{path}' is neither a PGM (P2/P5) nor an image format SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP).");
        var pixels = new float[bitmap.Width * bitmap.Height];
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                float grey = (0.299f * c.Red + 0.587f * c.Green + 0.114f * c.Blue) / 255f;
                float alpha = c.Alpha / 255f;
                pixels[y * bitmap.Width + x] = alpha * grey + (1 - alpha);   // composite over white
            }
        return new GreyImage(bitmap.Width, bitmap.Height, pixels);
    }

    /// <summary>Parses a binary (P5) or plain (P2) PGM with maxval up to 65535 and <c>#</c> comments.</summary>
    public static GreyImage ReadPgm(byte[] data, string path = "image")
    {
        int pos = 2;
        bool binary = data[1] == (byte)'5';
        int width = ReadHeaderInt(data, ref pos, path, "width");
        int height = ReadHeaderInt(data, ref pos, path, "height");
        int maxval = ReadHeaderInt(data, ref pos, path, "maxval");
        if (width <= 0 || height <= 0 || (long)width * height > 1 << 26)
            throw new MnistException($"PGM '{path}': bad size {width}×{height}.");
        if (maxval is <= 0 or > 65535)
            throw new MnistException($"PGM '{path}': maxval {maxval} is outside 1–65535.");
        var pixels = new float[width * height];
        if (binary)
        {
            pos++;   // exactly one whitespace byte after maxval
            int bytesPer = maxval < 256 ? 1 : 2;
            if (data.Length - pos < (long)pixels.Length * bytesPer)
                throw new MnistException($"PGM '{path}': truncated, {width}×{height} pixels need {pixels.Length * bytesPer} bytes, the file has {Math.Max(0, data.Length - pos)}.");
            for (int i = 0; i < pixels.Length; i++)
            {
                int v = bytesPer == 1 ? data[pos + i] : data[pos + 2 * i] << 8 | data[pos + 2 * i + 1];
                pixels[i] = Math.Min(v, maxval) / (float)maxval;
            }
        }
        else
        {
            for (int i = 0; i < pixels.Length; i++)
            {
                int v = ReadHeaderInt(data, ref pos, path, $"pixel {i}");
                pixels[i] = Math.Min(v, maxval) / (float)maxval;
            }
        }
        return new GreyImage(width, height, pixels);
    }

    private static int ReadHeaderInt(byte[] data, ref int pos, string path, string what)
    {
        while (pos < data.Length)
        {
            if (data[pos] == (byte)'#') { while (pos < data.Length && data[pos] != (byte)'\n') pos++; }
            else if (char.IsWhiteSpace((char)data[pos])) pos++;
            else break;
        }
        int start = pos;
        while (pos < data.Length && data[pos] >= (byte)'0' && data[pos] <= (byte)'9') pos++;
        if (pos == start) throw new MnistException($"PGM '{path}': expected the {what} (a number) at byte {start}.");
        return int.TryParse(Encoding.ASCII.GetString(data, start, pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int v)
            ? v : throw new MnistException($"PGM '{path}': the {what} is too large.");
    }

    /// <summary>Writes a binary PGM (P5) of grey levels 0–255.</summary>
    public static void WritePgm(string path, int width, int height, ReadOnlySpan<byte> pixels)
    {
        using var file = File.Create(path);
        file.Write(Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n"));
        file.Write(pixels);
    }

    /// <summary>
    /// Prepares an image as MNIST input: resized to 28×28 if needed (bilinear) and, when it is mostly light (dark ink
    /// on paper), inverted so the digit is light on black as in MNIST. Returns the [0, 1] pixels and whether it inverted.
    /// </summary>
    public static (float[] Pixels, bool Inverted, bool Resized) ToMnist(GreyImage image)
    {
        var pixels = image.Pixels;
        bool resized = image.Width != 28 || image.Height != 28;
        if (resized) pixels = Resize(image, 28, 28);
        double mean = pixels.Average();
        bool inverted = mean > 0.5;
        if (inverted) pixels = pixels.Select(p => 1 - p).ToArray();
        return (pixels, inverted, resized);
    }

    private static float[] Resize(GreyImage image, int width, int height)
    {
        // Area average when shrinking, bilinear otherwise: good enough for digits.
        var result = new float[width * height];
        double sx = (double)image.Width / width, sy = (double)image.Height / height;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double x0 = x * sx, x1 = (x + 1) * sx, y0 = y * sy, y1 = (y + 1) * sy;
                if (sx <= 1 && sy <= 1)
                {
                    double fx = Math.Clamp((x + 0.5) * sx - 0.5, 0, image.Width - 1), fy = Math.Clamp((y + 0.5) * sy - 0.5, 0, image.Height - 1);
                    int ix = (int)fx, iy = (int)fy, jx = Math.Min(ix + 1, image.Width - 1), jy = Math.Min(iy + 1, image.Height - 1);
                    double ax = fx - ix, ay = fy - iy;
                    double top = image.Pixels[iy * image.Width + ix] * (1 - ax) + image.Pixels[iy * image.Width + jx] * ax;
                    double bottom = image.Pixels[jy * image.Width + ix] * (1 - ax) + image.Pixels[jy * image.Width + jx] * ax;
                    result[y * width + x] = (float)(top * (1 - ay) + bottom * ay);
                    continue;
                }
                double sum = 0, weight = 0;
                for (int iy = (int)y0; iy < Math.Min(image.Height, (int)Math.Ceiling(y1)); iy++)
                    for (int ix = (int)x0; ix < Math.Min(image.Width, (int)Math.Ceiling(x1)); ix++)
                    {
                        double w = (Math.Min(ix + 1, x1) - Math.Max(ix, x0)) * (Math.Min(iy + 1, y1) - Math.Max(iy, y0));
                        sum += w * image.Pixels[iy * image.Width + ix];
                        weight += w;
                    }
                result[y * width + x] = (float)(sum / weight);
            }
        return result;
    }
}
