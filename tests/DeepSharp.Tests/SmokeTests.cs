namespace DeepSharp.Tests;
public class SmokeTests { [Test] public void One() => Assert.That(DeepSharp.Placeholder.One, Is.EqualTo(1)); }
