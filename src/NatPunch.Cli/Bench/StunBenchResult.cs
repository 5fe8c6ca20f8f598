using System.Globalization;
using System.Text.Json;

namespace NatPunch.Cli.Bench;

/// <summary>The outcome of one run: totals over all clients for the measured period, and how to print them.</summary>
internal sealed record StunBenchResult(StunBenchOptions Options, TimeSpan Measured, StunBenchCounts Counts, LatencyHistogram Latency,
    TimeSpan GeneratorCpu)
{
    /// <summary>CPU time the generator process spent per response during the measured period.</summary>
    public double GeneratorCpuMicrosecondsPerResponse => Counts.Responses > 0 ? GeneratorCpu.TotalMicroseconds / Counts.Responses : 0;

    /// <summary>How the generator moved datagrams: "batched" (recvmmsg/sendmmsg) or "portable" (one call each).</summary>
    public string Io => Options.Batched && NatPunch.Protocol.Net.LinuxDatagramBatch.IsSupported ? "batched" : "portable";

    public double ResponsesPerSecond => Measured > TimeSpan.Zero ? Counts.Responses / Measured.TotalSeconds : 0;

    /// <summary>Share of the measured requests that got no valid answer in time.</summary>
    public double LossPercent => Counts.Sent > 0 ? 100.0 * Counts.Lost / Counts.Sent : 0;

    private double LatencyMicroseconds(double quantile) => Latency.ValueAtQuantile(quantile) / 1000.0;

    /// <summary>One line for people.</summary>
    public string ToText()
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        return string.Create(c,
            $"{Options.Server}: {ResponsesPerSecond:N0} responses/s, loss {LossPercent:0.###}%, " +
            $"latency p50 {LatencyMicroseconds(0.50):0} us p99 {LatencyMicroseconds(0.99):0} us " +
            $"({Counts.Sent:N0} requests, {Counts.Responses:N0} responses in {Measured.TotalSeconds:0.##} s; " +
            $"{Options.Clients} clients x {Options.Window} outstanding, {Io} I/O, generator CPU {GeneratorCpuMicrosecondsPerResponse:0.00} us/response)");
    }

    /// <summary>One JSON object, snake_case names as in the rest of the CLI's JSON.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("event", "bench");
            json.WriteString("server", Options.Server.ToString());
            json.WriteNumber("clients", Options.Clients);
            json.WriteNumber("window", Options.Window);
            json.WriteNumber("seconds", Math.Round(Measured.TotalSeconds, 3));
            json.WriteNumber("warmup_seconds", Options.WarmUp.TotalSeconds);
            json.WriteNumber("timeout_ms", Options.Timeout.TotalMilliseconds);
            json.WriteString("io", Io);
            json.WriteNumber("requests", Counts.Sent);
            json.WriteNumber("responses", Counts.Responses);
            json.WriteNumber("lost", Counts.Lost);
            json.WriteNumber("late", Counts.Late);
            json.WriteNumber("invalid", Counts.Invalid);
            json.WriteNumber("send_errors", Counts.SendErrors);
            json.WriteNumber("receive_errors", Counts.ReceiveErrors);
            json.WriteNumber("loss_percent", Math.Round(LossPercent, 4));
            json.WriteNumber("responses_per_second", Math.Round(ResponsesPerSecond, 1));
            json.WriteNumber("latency_p50_us", Math.Round(LatencyMicroseconds(0.50), 1));
            json.WriteNumber("latency_p90_us", Math.Round(LatencyMicroseconds(0.90), 1));
            json.WriteNumber("latency_p99_us", Math.Round(LatencyMicroseconds(0.99), 1));
            json.WriteNumber("latency_p999_us", Math.Round(LatencyMicroseconds(0.999), 1));
            json.WriteNumber("latency_max_us", Math.Round(Latency.Max / 1000.0, 1));
            json.WriteNumber("generator_cpu_us_per_response", Math.Round(GeneratorCpuMicrosecondsPerResponse, 3));
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
