using ScottPlot;

namespace DeepSharp.Examples.Translation;

/// <summary>The training loss per step (moving average) and the per-epoch held-out exact match, with ScottPlot.</summary>
public static class TrainingPlot
{
    public static void Save(TrainResult result, string path, int width = 900, int height = 500) =>
        Save([result], path, width, height);

    /// <summary>Several runs on one plot (e.g. pre-LN and post-LN).</summary>
    public static void Save(IReadOnlyList<TrainResult> results, string path, int width = 900, int height = 500)
    {
        var plot = new Plot();
        double maxY = 0.1;
        foreach (var result in results)
        {
            var losses = result.StepLosses;
            int window = Math.Max(1, Math.Min(50, losses.Count / 20));
            var xs = new double[losses.Count];
            var ys = new double[losses.Count];
            double sum = 0;
            for (int i = 0; i < losses.Count; i++)
            {
                sum += losses[i];
                if (i >= window) sum -= losses[i - window];
                xs[i] = i + 1;
                ys[i] = sum / Math.Min(i + 1, window);
            }
            var line = plot.Add.ScatterLine(xs, ys);
            line.LegendText = $"{result.Norm}-LN train loss (moving average)";
            line.LineWidth = 1.5f;
            maxY = Math.Max(maxY, ys.DefaultIfEmpty(1).Max() * 1.05);

            var checks = result.Checks;
            if (checks.Count > 0)
            {
                var acc = plot.Add.Scatter(checks.Select(e => (double)e.Step).ToArray(), checks.Select(e => e.ExactMatch * 100).ToArray());
                acc.LegendText = $"{result.Norm}-LN held-out exact match (%, right axis)";
                acc.MarkerSize = 7;
                acc.LinePattern = LinePattern.Dashed;
                acc.Axes.YAxis = plot.Axes.Right;
            }
        }
        var first = results[0];
        plot.Title(results.Count == 1
            ? $"DeepSharp translation, {first.Norm}-LN: {first.ExactMatch * 100:F1}% exact match, BLEU {first.Bleu:F1}"
            : "DeepSharp translation: " + string.Join(", ", results.Select(r => $"{r.Norm}-LN {r.ExactMatch * 100:F1}% / BLEU {r.Bleu:F1}")));
        plot.XLabel("optimizer step");
        plot.YLabel("label-smoothed cross-entropy");
        plot.Axes.Right.Label.Text = "exact match (%)";
        plot.Axes.SetLimitsY(0, maxY, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, 101, plot.Axes.Right);
        plot.ShowLegend(Edge.Bottom);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(path, width, height);
    }
}
