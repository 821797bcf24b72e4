using System.Globalization;
using DeepSharp.Examples.Common;
using ScottPlot;

namespace DeepSharp.Examples.GradientFlow;

/// <summary>ScottPlot PNGs of the measurements.</summary>
public static class Plots
{
    /// <summary>Per-layer gradient norms on a logarithmic scale (log10 plotted, ticks labelled 10^k).</summary>
    public static string GradientNorms(IReadOnlyList<Run> runs, string path, string title, string xLabel, int width = 900, int height = 520)
    {
        var plot = new Plot();
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var run in runs)
        {
            var xs = Enumerable.Range(1, run.GradientNorms.Count).Select(i => (double)i).ToArray();
            var ys = run.GradientNorms.Select(v => Math.Log10(Math.Max(v, 1e-300))).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = run.Name;
            line.MarkerSize = 5;
            line.LineWidth = 1.5f;
            if (run.Name.Contains("tanh")) line.LinePattern = LinePattern.Solid;
            else if (run.Name.Contains("relu")) line.LinePattern = LinePattern.Dashed;
            lo = Math.Min(lo, ys.Min());
            hi = Math.Max(hi, ys.Max());
        }
        int kLo = (int)Math.Floor(lo), kHi = (int)Math.Ceiling(hi);
        if (kHi == kLo) kHi++;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        int step = Math.Max(1, (kHi - kLo + 9) / 10);
        static string Label(double value) => value.ToString(value >= 1e-3 && value < 1e4 ? "0.###" : "0e0", CultureInfo.InvariantCulture);
        for (int k = kLo; k <= kHi; k += step)
        {
            ticks.AddMajor(k, Label(Math.Pow(10, k)));
            // Over a few decades only, also label 2·10^k and 5·10^k.
            if (kHi - kLo <= 3 && k < kHi)
                foreach (double m in new[] { 2.0, 5.0 }) ticks.AddMajor(k + Math.Log10(m), Label(m * Math.Pow(10, k)));
        }
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.SetLimitsY(kLo - 0.1, kHi + 0.1);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("gradient norm ‖∂L/∂θ‖ (log scale)");
        plot.ShowLegend(Edge.Right);
        return Save(plot, path, width, height);
    }

    /// <summary>Training loss per step (a short moving average).</summary>
    /// <remarks>A run whose loss becomes NaN or infinite is drawn up to that step and marked "diverged"; the y axis
    /// stops at <paramref name="maxY"/> so that an exploding run does not flatten the others.</remarks>
    public static string Losses(IReadOnlyList<Run> runs, string path, string title, double maxY, int width = 900, int height = 520)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            int window = Math.Max(1, Math.Min(10, run.Losses.Count / 30));
            int finiteSteps = run.Losses.TakeWhile(double.IsFinite).Count();
            var ys = TrainingPlot.MovingAverage(run.Losses, window, finiteSteps);
            var xs = Enumerable.Range(1, finiteSteps).Select(i => (double)i).ToArray();
            var line = plot.Add.ScatterLine(xs, ys);
            line.LegendText = finiteSteps < run.Losses.Count ? $"{run.Name} (diverged at step {finiteSteps + 1})" : run.Name;
            line.LineWidth = 1.5f;
            if (run.Name.Contains("relu")) line.LinePattern = LinePattern.Dashed;
        }
        plot.Axes.SetLimitsY(0, maxY);
        plot.Title(title);
        plot.XLabel("training step");
        plot.YLabel("cross-entropy loss");
        plot.ShowLegend(Edge.Right);
        return Save(plot, path, width, height);
    }

    private static string Save(Plot plot, string path, int width, int height) => TrainingPlot.SavePng(plot, path, width, height);
}
