using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[TestFixture, Category("Kernels")]
public class ScalarMathTests
{
    // Reference values: mpmath at 30 digits.
    [TestCase(1e-10, 0.00000000011283791670955126)]
    [TestCase(0.1, 0.1124629160182849)]
    [TestCase(0.5, 0.5204998778130465)]
    [TestCase(1.0, 0.8427007929497149)]
    [TestCase(1.5, 0.96610514647531073)]
    [TestCase(2.0, 0.9953222650189527)]
    [TestCase(2.4999, 0.99959283009966655)]
    [TestCase(2.5, 0.99959304798255504)]
    [TestCase(3.0, 0.9999779095030014)]
    [TestCase(3.5, 0.99999925690162766)]
    [TestCase(4.0, 0.9999999845827421)]
    [TestCase(5.0, 0.99999999999846254)]
    [TestCase(5.9, 0.99999999999999993)]
    [TestCase(6.5, 1.0)]
    [TestCase(-0.75, -0.71115563365351513)]
    public void ErfDouble_MatchesHighPrecisionValues(double x, double expected)
    {
        Assert.That(ScalarMath.Erf(x), Is.EqualTo(expected).Within(1e-15));
        Assert.That(ScalarMath.Erf(-x), Is.EqualTo(-expected).Within(1e-15));
    }

    [Test]
    public void ErfDouble_TinyArgumentIsRelativelyAccurate()
    {
        double x = 1e-200;
        Assert.That(ScalarMath.Erf(x) / (x * 2 / Math.Sqrt(Math.PI)), Is.EqualTo(1.0).Within(1e-15));
    }

    [Test]
    public void ErfDouble_IsOddMonotoneAndBounded()
    {
        double prev = -1.0;
        for (double x = -7; x <= 7; x += 0.001)
        {
            double e = ScalarMath.Erf(x);
            Assert.That(ScalarMath.Erf(-x), Is.EqualTo(-e), $"x={x}");
            Assert.That(e, Is.GreaterThanOrEqualTo(prev - 1e-16), $"x={x}");
            Assert.That(Math.Abs(e), Is.LessThanOrEqualTo(1.0));
            prev = e;
        }
    }

    [Test]
    public void ErfDouble_DerivativeMatchesFiniteDifferences()
    {
        // d/dx erf = 2/√π e^(−x²): central differences with eps 1e-6 need erf accurate to ~1e-15.
        for (double x = -4; x <= 4; x += 0.173)
        {
            double h = 1e-6;
            double fd = (ScalarMath.Erf(x + h) - ScalarMath.Erf(x - h)) / (2 * h);
            double exact = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x);
            Assert.That(fd, Is.EqualTo(exact).Within(2e-9), $"x={x}");
        }
    }

    [Test]
    public void ErfDouble_SpecialValues()
    {
        Assert.That(ScalarMath.Erf(double.PositiveInfinity), Is.EqualTo(1.0));
        Assert.That(ScalarMath.Erf(double.NegativeInfinity), Is.EqualTo(-1.0));
        Assert.That(double.IsNaN(ScalarMath.Erf(double.NaN)), Is.True);
        Assert.That(ScalarMath.Erf(0.0), Is.EqualTo(0.0));
        Assert.That(double.IsNegative(ScalarMath.Erf(-0.0)), Is.True);
        Assert.That(ScalarMath.Erf(1e300), Is.EqualTo(1.0));
    }

    [Test]
    public void ErfFloatAndGeneric_AgreeWithDouble()
    {
        for (float x = -6f; x <= 6f; x += 0.01f)
        {
            float expected = (float)ScalarMath.Erf((double)x);
            Assert.That(ScalarMath.Erf(x), Is.EqualTo(expected));
            Assert.That(ScalarMath.Erf<float>(x), Is.EqualTo(expected));
            Assert.That(ScalarMath.Erf<double>(x), Is.EqualTo(ScalarMath.Erf((double)x)));
        }
        Assert.That((double)ScalarMath.Erf((Half)0.5), Is.EqualTo(0.5205).Within(1e-3));
        Assert.That(float.IsNaN(ScalarMath.Erf(float.NaN)), Is.True);
        Assert.That(ScalarMath.Erf(float.NegativeInfinity), Is.EqualTo(-1f));
    }

    [Test]
    public void Erfc_IsRelativelyAccurateInTheTail()
    {
        // mpmath: erfc(3) = 2.2090496998585441e-5, erfc(5) = 1.5374597944280349e-12, erfc(10) = 2.0884875837625448e-45
        Assert.That(ScalarMath.Erfc(3.0) / 2.2090496998585441e-5, Is.EqualTo(1.0).Within(1e-13));
        Assert.That(ScalarMath.Erfc(5.0) / 1.5374597944280349e-12, Is.EqualTo(1.0).Within(1e-13));
        Assert.That(ScalarMath.Erfc(10.0) / 2.0884875837625448e-45, Is.EqualTo(1.0).Within(1e-13));
        Assert.That(ScalarMath.Erfc(-10.0), Is.EqualTo(2.0));
        Assert.That(ScalarMath.Erfc(0.5), Is.EqualTo(1 - 0.5204998778130465).Within(1e-15));
    }
}
