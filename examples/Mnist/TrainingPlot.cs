using ScottPlot;

namespace DeepSharp.Examples.Mnist;

/// <summary>Draws the training curves with ScottPlot: loss on the left axis, accuracy on the right.</summary>
public static class TrainingPlot
{
    public static void Save(TrainResult result, string path, int width = 900, int height = 500)
    {
        var plot = new Plot();
        int perEpoch = result.BatchesPerEpoch;

        // Every batch's loss, smoothed over a tenth of an epoch, against the (fractional) epoch.
        int window = Math.Max(1, perEpoch / 10);
        var losses = result.BatchLosses;
        var xs = new double[losses.Count];
        var ys = new double[losses.Count];
        double sum = 0;
        for (int i = 0; i < losses.Count; i++)
        {
            sum += losses[i];
            if (i >= window) sum -= losses[i - window];
            xs[i] = (i + 1) / (double)perEpoch;
            ys[i] = sum / Math.Min(i + 1, window);
        }
        var batchLoss = plot.Add.ScatterLine(xs, ys);
        batchLoss.LegendText = "train loss (moving average)";
        batchLoss.LineWidth = 1.5f;

        double[] epochs = result.Epochs.Select(e => (double)e.Epoch).ToArray();
        var testLoss = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TestLoss).ToArray());
        testLoss.LegendText = "test loss";
        testLoss.MarkerSize = 8;

        var testAccuracy = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TestAccuracy * 100).ToArray());
        testAccuracy.LegendText = "test accuracy (%, right axis)";
        testAccuracy.MarkerSize = 8;
        testAccuracy.LinePattern = LinePattern.Dashed;
        testAccuracy.Axes.YAxis = plot.Axes.Right;

        var trainAccuracy = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TrainAccuracy * 100).ToArray());
        trainAccuracy.LegendText = "train accuracy (%, right axis)";
        trainAccuracy.MarkerSize = 8;
        trainAccuracy.LinePattern = LinePattern.Dotted;
        trainAccuracy.Axes.YAxis = plot.Axes.Right;

        plot.Title($"DeepSharp MNIST, {result.Model}: {result.TestAccuracy * 100:F2}% test accuracy ({result.TrainCount:N0} training images)");
        plot.XLabel("epoch");
        plot.YLabel("cross-entropy loss");
        plot.Axes.Right.Label.Text = "accuracy (%)";
        plot.Axes.SetLimitsX(0, Math.Max(1, result.Epochs.Count) + 0.05);
        plot.Axes.SetLimitsY(0, Math.Max(0.1, ys.DefaultIfEmpty(1).Max() * 1.05), plot.Axes.Left);
        plot.ShowLegend(Edge.Bottom);

        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plot.SavePng(path, width, height);
    }
}
