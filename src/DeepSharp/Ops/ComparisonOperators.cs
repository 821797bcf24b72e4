namespace DeepSharp;

// C# comparison operators returning Bool tensors, as PyTorch's. == and != keep .NET's reference equality (a Tensor
// is a reference type used as a dictionary key and compared with null); use Eq / Ne for element-wise equality.
public sealed partial class Tensor
{
    /// <summary>Element-wise &lt; (broadcast, promoted), a Bool tensor; same as <see cref="Lt(Tensor)"/>.</summary>
    public static Tensor operator <(Tensor a, Tensor b) => a.Lt(b);
    /// <summary>Element-wise &gt;, a Bool tensor; same as <see cref="Gt(Tensor)"/>.</summary>
    public static Tensor operator >(Tensor a, Tensor b) => a.Gt(b);
    /// <summary>Element-wise ≤, a Bool tensor; same as <see cref="Le(Tensor)"/>.</summary>
    public static Tensor operator <=(Tensor a, Tensor b) => a.Le(b);
    /// <summary>Element-wise ≥, a Bool tensor; same as <see cref="Ge(Tensor)"/>.</summary>
    public static Tensor operator >=(Tensor a, Tensor b) => a.Ge(b);
    /// <summary>Element-wise &lt; scalar, a Bool tensor.</summary>
    public static Tensor operator <(Tensor a, double s) => a.Lt(s);
    /// <summary>Element-wise &gt; scalar, a Bool tensor.</summary>
    public static Tensor operator >(Tensor a, double s) => a.Gt(s);
    /// <summary>Element-wise ≤ scalar, a Bool tensor.</summary>
    public static Tensor operator <=(Tensor a, double s) => a.Le(s);
    /// <summary>Element-wise ≥ scalar, a Bool tensor.</summary>
    public static Tensor operator >=(Tensor a, double s) => a.Ge(s);
    /// <summary>scalar &lt; each element, a Bool tensor.</summary>
    public static Tensor operator <(double s, Tensor a) => a.Gt(s);
    /// <summary>scalar &gt; each element, a Bool tensor.</summary>
    public static Tensor operator >(double s, Tensor a) => a.Lt(s);
    /// <summary>scalar ≤ each element, a Bool tensor.</summary>
    public static Tensor operator <=(double s, Tensor a) => a.Ge(s);
    /// <summary>scalar ≥ each element, a Bool tensor.</summary>
    public static Tensor operator >=(double s, Tensor a) => a.Le(s);
}
