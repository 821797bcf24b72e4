using DeepSharp.IO;

namespace DeepSharp.Tests.IO;

/// <summary>A save killed half-way leaves a temporary file; the next save or resume of the same target removes it.</summary>
[TestFixture]
public class AtomicFileTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "deepsharp-atomic-" + Guid.NewGuid().ToString("N")));

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>What a process killed inside <see cref="AtomicFile.Write"/> leaves: a temporary file nobody holds.</summary>
    private string StaleTemporary(string target)
    {
        string tmp = Path.Combine(_dir, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(tmp, [1, 2, 3]);
        return tmp;
    }

    private string[] Temporaries() => Directory.GetFiles(_dir, "*.tmp");

    [Test]
    public void TheNextSaveOfTheSameTargetRemovesStaleTemporaries()
    {
        string target = Path.Combine(_dir, "model.safetensors"), other = Path.Combine(_dir, "other.safetensors");
        StaleTemporary(target);
        StaleTemporary(target);
        string othersTmp = StaleTemporary(other);
        // Names this class does not make are not touched, even with the same prefix.
        string foreign = Path.Combine(_dir, ".model.safetensors.notes.tmp");
        File.WriteAllText(foreign, "mine");

        SafeTensors.Save(new Dictionary<string, Tensor> { ["w"] = Tensor.Ones([2]) }, target);

        Assert.That(Temporaries(), Is.EquivalentTo(new[] { othersTmp, foreign }), "only the target's own stale temporaries go");
        Assert.That(SafeTensors.Load(target)["w"].ToArray<float>(), Is.EqualTo(new[] { 1f, 1f }));
    }

    [Test]
    public void ResumingRemovesTheTemporaryOfAKilledCheckpointSave()
    {
        string path = Path.Combine(_dir, "last.safetensors");
        var state = new CheckpointState { Epoch = 2, Step = 40 };
        state.Tensors["model"] = new Dictionary<string, Tensor> { ["b"] = Tensor.Zeros([3]) };
        Checkpoint.Save(state, path);
        StaleTemporary(path);
        Assert.That(Temporaries(), Has.Length.EqualTo(1));

        var back = Checkpoint.Load(path);

        Assert.That((back.Epoch, back.Step), Is.EqualTo((2L, 40L)));
        Assert.That(Temporaries(), Is.Empty);
    }

    [Test]
    public void ALiveWriteIsNotMistakenForAStaleOne()
    {
        string target = Path.Combine(_dir, "x.bin");
        int removedDuringWrite = -1;
        AtomicFile.Write(target, s =>
        {
            s.Write([42]);
            // Another save of the same target starts while this one is still writing: it must leave this temporary alone.
            Assert.That(Temporaries(), Has.Length.EqualTo(1));
            removedDuringWrite = AtomicFile.RemoveStaleTemporaries(target);
            Assert.That(Temporaries(), Has.Length.EqualTo(1));
        });
        Assert.That(removedDuringWrite, Is.Zero);
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 42 }));
        Assert.That(Temporaries(), Is.Empty);
    }

    [Test]
    public void AFailedWriteLeavesTheOldFileAndNoTemporary()
    {
        string target = Path.Combine(_dir, "y.bin");
        File.WriteAllBytes(target, [7]);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(target, s => { s.Write([1, 2]); throw new InvalidOperationException("disk full"); }));
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 7 }));
        Assert.That(Temporaries(), Is.Empty);
    }

    [Test]
    public void CheckpointAndSafeTensorsTakeTheObjectFirstAndThePathSecond()
    {
        // torch.save(obj, f) order for both; the old Checkpoint.Save(path, state) no longer compiles (string is not a state).
        var saveCheckpoint = typeof(Checkpoint).GetMethod(nameof(Checkpoint.Save))!.GetParameters();
        var saveTensors = typeof(SafeTensors).GetMethod(nameof(SafeTensors.Save))!.GetParameters();
        Assert.That(saveCheckpoint.Select(p => p.ParameterType), Is.EqualTo(new[] { typeof(CheckpointState), typeof(string) }));
        Assert.That(saveTensors[1].ParameterType, Is.EqualTo(typeof(string)));
        Assert.That(saveTensors[0].ParameterType, Is.Not.EqualTo(typeof(string)));
    }
}
