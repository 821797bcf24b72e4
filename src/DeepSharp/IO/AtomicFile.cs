namespace DeepSharp.IO;

/// <summary>
/// Atomic file replacement: content is written to a temporary file in the target's directory, flushed to disk,
/// then moved over the target. If anything fails the target is untouched and the temporary file is removed.
/// A process killed mid-write leaves its temporary file behind; the next <see cref="Write"/> to the same target
/// (and <see cref="Checkpoint.Load"/>) removes it, see <see cref="RemoveStaleTemporaries"/>.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>, which receives the temporary file's stream.</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="write">Writes the whole content; an exception aborts the write and leaves any existing file intact.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"AtomicFile: '{path}' has no directory.");
        RemoveStaleTemporaries(full);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // Held open (locked against other openers, FileShare.Delete so it can be renamed) until it has its final
            // name: a concurrent RemoveStaleTemporaries cannot mistake a live write for a dead one.
            using var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.Delete, 1 << 16);
            write(fs);
            fs.Flush(flushToDisk: true);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files that writes of <paramref name="path"/> left behind when their process was killed
    /// (<c>.{name}.{32 hex digits}.tmp</c> next to it). A temporary file a live write still holds open is left alone;
    /// files that cannot be deleted are skipped. Returns how many were deleted.
    /// </summary>
    public static int RemoveStaleTemporaries(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) return 0;
        string prefix = $".{Path.GetFileName(full)}.";
        int removed = 0;
        foreach (string tmp in Directory.EnumerateFiles(dir, prefix + "*.tmp"))
        {
            string id = Path.GetFileName(tmp)[prefix.Length..^4];
            if (id.Length != 32 || !id.All(char.IsAsciiHexDigitLower)) continue;   // only names this class makes
            try
            {
                // Opening exclusively fails while a writer holds the file; DeleteOnClose removes it otherwise.
                using (new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
                removed++;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }
}
