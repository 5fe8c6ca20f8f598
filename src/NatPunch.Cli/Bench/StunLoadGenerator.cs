using System.Diagnostics;
using System.Security.Cryptography;

namespace NatPunch.Cli.Bench;

/// <summary>
/// Runs <see cref="StunBenchOptions.Clients"/> <see cref="StunBenchClient"/>s on dedicated threads
/// through warm-up, the measured period and a drain, then adds up what they counted.
/// Dedicated threads with blocking calls cost one system call per datagram and nothing else,
/// which keeps the generator from being what is measured.
/// </summary>
internal static class StunLoadGenerator
{
    public static StunBenchResult Run(StunBenchOptions options, CancellationToken cancellationToken)
    {
        var phase = new BenchPhaseSignal();
        var clients = new StunBenchClient[options.Clients];
        var threads = new Thread[options.Clients];
        try
        {
            uint firstTag = (uint)RandomNumberGenerator.GetInt32(int.MaxValue);
            for (int i = 0; i < clients.Length; i++)
            {
                clients[i] = new StunBenchClient(options, firstTag + (uint)i, phase);
                threads[i] = new Thread(clients[i].Run) { IsBackground = true, Name = $"bench client {i}" };
            }
            foreach (Thread thread in threads)
            {
                thread.Start();
            }

            cancellationToken.WaitHandle.WaitOne(options.WarmUp);
            using Process self = Process.GetCurrentProcess();
            TimeSpan cpuBefore = self.TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            phase.Enter(BenchPhase.Measuring);
            cancellationToken.WaitHandle.WaitOne(options.Duration);
            phase.Enter(BenchPhase.Draining);
            TimeSpan measured = Stopwatch.GetElapsedTime(start);
            self.Refresh();
            // What the generator itself cost: it shares the machine with the server it measures.
            TimeSpan generatorCpu = self.TotalProcessorTime - cpuBefore;

            // Clients stop on their own once their counted requests are answered or timed out.
            var deadline = Stopwatch.StartNew();
            TimeSpan drainLimit = options.Timeout * 2 + TimeSpan.FromSeconds(1);
            foreach (Thread thread in threads)
            {
                TimeSpan left = drainLimit - deadline.Elapsed;
                thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }
            phase.Enter(BenchPhase.Done);
            foreach (Thread thread in threads)
            {
                thread.Join();
            }

            var counts = new StunBenchCounts();
            var latency = new LatencyHistogram();
            foreach (StunBenchClient client in clients)
            {
                counts.Add(client.Counts);
                latency.Add(client.Latency);
            }
            return new StunBenchResult(options, measured, counts, latency, generatorCpu);
        }
        finally
        {
            phase.Enter(BenchPhase.Done);
            foreach (StunBenchClient? client in clients)
            {
                client?.Dispose();
            }
        }
    }
}
