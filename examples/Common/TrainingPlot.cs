using ScottPlot;

namespace DeepSharp.Examples.Common;

/// <summary>
/// A loss plot with ScottPlot, shared by the examples: smoothed loss curves on the left axis, per-epoch (or per-check)
/// points on an optional right axis (accuracy, exact match). Build it, then <see cref="Save"/> it under the run folder.
/// </summary>
public sealed class TrainingPlot
{
    private readonly Plot _plot = new();
    private double _maxLoss = 0.1;
    private (double Lo, double Hi)? _x, _right;
    private double? _leftMax;

    /// <summary>A plot titled <paramref name="title"/>; <paramref name="rightLabel"/> names the right axis if points use it.</summary>
    public TrainingPlot(string title, string xLabel, string yLabel, string? rightLabel = null)
    {
        _plot.Title(title);
        _plot.XLabel(xLabel);
        _plot.YLabel(yLabel);
        if (rightLabel is not null) _plot.Axes.Right.Label.Text = rightLabel;
    }

    /// <summary>The ScottPlot object, for anything this helper does not cover (log axes, tick labels).</summary>
    public Plot Plot => _plot;

    /// <summary>The mean of the last <paramref name="window"/> values at each index (fewer at the start).</summary>
    public static double[] MovingAverage(IReadOnlyList<double> values, int window, int? count = null)
    {
        var ys = new double[count ?? values.Count];
        double sum = 0;
        for (int i = 0; i < ys.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            ys[i] = sum / Math.Min(i + 1, window);
        }
        return ys;
    }

    /// <summary>
    /// A loss curve smoothed over <paramref name="window"/> values; the i-th value (from 0) is drawn at <paramref name="x"/>(i)
    /// (default i + 1, the step). Only the first <paramref name="count"/> values are drawn if given (e.g. up to a divergence).
    /// </summary>
    public TrainingPlot SmoothedLoss(string legend, IReadOnlyList<double> losses, int window, Func<int, double>? x = null,
        LinePattern? pattern = null, int? count = null)
    {
        var ys = MovingAverage(losses, Math.Max(1, window), count);
        var xs = new double[ys.Length];
        for (int i = 0; i < xs.Length; i++) xs[i] = x?.Invoke(i) ?? i + 1;
        var line = _plot.Add.ScatterLine(xs, ys);
        line.LegendText = legend;
        line.LineWidth = 1.5f;
        if (pattern is { } p) line.LinePattern = p;
        _maxLoss = Math.Max(_maxLoss, ys.DefaultIfEmpty(1).Max() * 1.05);
        return this;
    }

    /// <summary>Points joined by a line (per-epoch metrics), on the right axis if <paramref name="rightAxis"/>.</summary>
    public TrainingPlot Points(string legend, IReadOnlyList<double> xs, IReadOnlyList<double> ys, bool rightAxis = false,
        LinePattern? pattern = null, float markerSize = 8)
    {
        var points = _plot.Add.Scatter(xs.ToArray(), ys.ToArray());
        points.LegendText = legend;
        points.MarkerSize = markerSize;
        if (pattern is { } p) points.LinePattern = p;
        if (rightAxis) points.Axes.YAxis = _plot.Axes.Right;
        return this;
    }

    /// <summary>Fixes the x range.</summary>
    public TrainingPlot XRange(double lo, double hi) { _x = (lo, hi); return this; }

    /// <summary>Fixes the right axis range.</summary>
    public TrainingPlot RightRange(double lo, double hi) { _right = (lo, hi); return this; }

    /// <summary>Caps the loss axis (so that one exploding run does not flatten the others); default: the largest smoothed loss.</summary>
    public TrainingPlot LossMax(double max) { _leftMax = max; return this; }

    /// <summary>Writes the PNG to <paramref name="path"/> (its folder is created) and returns the path.</summary>
    public string Save(string path, int width = 900, int height = 500, Edge legend = Edge.Bottom)
    {
        if (_x is { } x) _plot.Axes.SetLimitsX(x.Lo, x.Hi);
        _plot.Axes.SetLimitsY(0, _leftMax ?? _maxLoss, _plot.Axes.Left);
        if (_right is { } r) _plot.Axes.SetLimitsY(r.Lo, r.Hi, _plot.Axes.Right);
        _plot.ShowLegend(legend);
        return SavePng(_plot, path, width, height);
    }

    /// <summary>Writes any ScottPlot plot to <paramref name="path"/>, creating its folder; returns the path.</summary>
    public static string SavePng(Plot plot, string path, int width, int height)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(path, width, height);
        return path;
    }
}
