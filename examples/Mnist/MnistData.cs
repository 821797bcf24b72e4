using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using DeepSharp;
using DeepSharp.Data;

namespace DeepSharp.Examples.Mnist;

/// <summary>An error the example reports to the user as a message (no stack trace).</summary>
public sealed class MnistException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One split of an IDX data set: images normalised to [N, 1, 28, 28] and Int64 labels [N].</summary>
public sealed record MnistSplit(Tensor Images, Tensor Labels, string ImagesPath, string LabelsPath)
{
    public int Count => Labels.Shape[0];
}

/// <summary>Finding, reading and downloading the MNIST-format IDX files.</summary>
public static class MnistData
{
    /// <summary>Mean and standard deviation of the MNIST training pixels in [0, 1] (as PyTorch's example uses).</summary>
    public const float Mean = 0.1307f, Std = 0.3081f;

    /// <summary>The 10,000 digits shipped with the example (8,000 train / 2,000 test), copied next to the binary.</summary>
    public static string BundledFolder => Path.Combine(AppContext.BaseDirectory, "data");

    /// <summary>The default download cache: <c>$XDG_CACHE_HOME/deepsharp/mnist</c> or <c>~/.cache/deepsharp/mnist</c>.</summary>
    public static string DefaultCacheFolder
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrEmpty(xdg) ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "deepsharp", "mnist");
        }
    }

    /// <summary>Mirrors of the original MNIST files (those torchvision and TensorFlow use).</summary>
    public static readonly string[] DefaultMirrors =
    [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ];

    /// <summary>
    /// The four files of full MNIST with their SHA-256 sums and sizes. These are the published sums of the
    /// original <c>yann.lecun.com</c> archives, as recorded by TensorFlow Datasets and torchvision's mirrors.
    /// </summary>
    public static readonly (string Name, string Sha256, long Bytes)[] OfficialFiles =
    [
        ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
        ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
        ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
        ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
    ];

    /// <summary>
    /// The path of one IDX file in <paramref name="folder"/>. Accepts the standard names
    /// (<c>train-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c>, …), the dotted variant
    /// (<c>train-images.idx3-ubyte</c>), a <c>test</c> prefix in place of <c>t10k</c>, each with or without <c>.gz</c>.
    /// </summary>
    public static string Find(string folder, bool train, bool images)
    {
        if (!Directory.Exists(folder))
            throw new MnistException($"Data folder '{folder}' does not exist.");
        string kind = images ? "images" : "labels", idx = images ? "idx3" : "idx1";
        string[] prefixes = train ? ["train"] : ["t10k", "test"];
        var candidates = new List<string>();
        foreach (var prefix in prefixes)
            foreach (var sep in new[] { "-", "." })
                foreach (var ext in new[] { ".gz", "" })
                    candidates.Add($"{prefix}-{kind}{sep}{idx}-ubyte{ext}");
        foreach (var name in candidates)
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        throw new MnistException(
            $"No {(train ? "training" : "test")} {kind} in '{folder}': expected a file named {candidates[0]} (or {candidates[1]}, " +
            $"{string.Join(", ", candidates.Skip(2).Take(2))}, …). Any folder holding the four IDX files of MNIST or Fashion-MNIST works.");
    }

    /// <summary>Reads one split from <paramref name="folder"/>, scales to [0, 1] and normalises with <see cref="Mean"/>, <see cref="Std"/>.</summary>
    /// <param name="limit">Keep only the first <paramref name="limit"/> examples (for quick runs).</param>
    public static MnistSplit Load(string folder, bool train, int? limit = null)
    {
        string imagesPath = Find(folder, train, images: true), labelsPath = Find(folder, train, images: false);
        Tensor images, labels;
        try
        {
            images = IdxReader.ReadImages(imagesPath, scale: true);
            labels = IdxReader.ReadLabels(labelsPath);
        }
        catch (InvalidDataException ex)
        {
            throw new MnistException(ex.Message, ex);
        }
        var shape = images.Shape;
        if (shape[1] != 28 || shape[2] != 28)
            throw new MnistException($"'{imagesPath}' holds {shape[1]}×{shape[2]} images; the models expect 28×28.");
        if (labels.Shape[0] != shape[0])
            throw new MnistException($"'{imagesPath}' has {shape[0]} images but '{labelsPath}' has {labels.Shape[0]} labels.");
        int n = limit is { } l ? Math.Min(l, shape[0]) : shape[0];
        if (n < shape[0])
        {
            images = images.Narrow(0, 0, n).Contiguous();
            labels = labels.Narrow(0, 0, n).Contiguous();
        }
        images = ((images - Mean) / Std).Reshape(n, 1, 28, 28);
        return new MnistSplit(images, labels, imagesPath, labelsPath);
    }

    /// <summary>
    /// Makes sure the four full-MNIST files are in <paramref name="cacheFolder"/>, downloading the missing ones from
    /// the first mirror that answers and checking each file's SHA-256 before it is kept.
    /// </summary>
    /// <exception cref="MnistException">No mirror could be reached, or a download did not match its checksum.</exception>
    public static string Download(string cacheFolder, IReadOnlyList<string> mirrors, TimeSpan timeout, Action<string> log)
    {
        Directory.CreateDirectory(cacheFolder);
        using var handler = new SocketsHttpHandler { ConnectTimeout = timeout, AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("DeepSharp-MNIST-example/1.0");
        foreach (var (name, sha256, bytes) in OfficialFiles)
        {
            string target = Path.Combine(cacheFolder, name);
            if (File.Exists(target) && Sha256Of(target) == sha256)
            {
                log($"{name}: already in {cacheFolder} (checksum OK)");
                continue;
            }
            var errors = new List<string>();
            bool done = false;
            foreach (var mirror in mirrors)
            {
                string url = mirror.TrimEnd('/') + "/" + name;
                string temp = target + ".part";
                try
                {
                    log($"{name}: downloading {url} ({bytes / 1024.0 / 1024.0:F1} MB)");
                    using (var cts = new CancellationTokenSource(timeout + TimeSpan.FromSeconds(bytes / 50_000.0)))
                    using (var response = http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token).GetAwaiter().GetResult())
                    {
                        response.EnsureSuccessStatusCode();
                        using var source = response.Content.ReadAsStream(cts.Token);
                        using var file = File.Create(temp);
                        source.CopyToAsync(file, cts.Token).GetAwaiter().GetResult();
                    }
                    string actual = Sha256Of(temp);
                    if (actual != sha256)
                    {
                        File.Delete(temp);
                        errors.Add($"{url}: SHA-256 mismatch (got {actual}, expected {sha256}); the file was discarded");
                        continue;
                    }
                    File.Move(temp, target, overwrite: true);
                    log($"{name}: checksum OK");
                    done = true;
                    break;
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or SocketException)
                {
                    if (File.Exists(temp)) File.Delete(temp);
                    errors.Add($"{url}: {Describe(ex, timeout)}");
                }
            }
            if (!done)
                throw new MnistException(
                    $"Could not download {name}:\n  " + string.Join("\n  ", errors) + "\n" +
                    "Check the internet connection (or a proxy via HTTPS_PROXY). Alternatives: copy the four MNIST files into " +
                    $"{cacheFolder} (they are checked against their SHA-256 on the next --download), train on any folder of IDX " +
                    "files with --data DIR, or run without --download to use the 10,000 digits bundled with the example.");
        }
        return cacheFolder;
    }

    private static string Describe(Exception ex, TimeSpan timeout)
    {
        if (ex is OperationCanceledException) return $"timed out (connect timeout {timeout.TotalSeconds:0.#} s)";
        var messages = new List<string>();
        for (var e = ex; e is not null; e = e.InnerException)
            if (!messages.Any(m => m.Contains(e.Message, StringComparison.Ordinal))) messages.Add(e.Message);
        return string.Join(" — ", messages);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
