using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace NatPunch.Benchmarks;

/// <summary>
/// The far side of bench/idle-sessions.sh: opens N sessions to one peer (a <c>natpunch expose</c> or
/// <c>listen</c>) through a NatPunch server from a few nodes in parallel, then holds them idle
/// (keepalives only) until stdin closes or the hold time passes, and reports how many stayed up.
/// </summary>
internal static class IdleSessionsClient
{
    /// <summary>Bytes in the managed heap after a full, compacting collection.</summary>
    private static long ManagedHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    /// <summary>Arguments: SERVER PEER SESSIONS [NODES] [HOLD_SECONDS].</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        string server = args[0], peer = args[1];
        int sessions = int.Parse(args[2], CultureInfo.InvariantCulture);
        int nodes = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 20;
        int hold = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 120;
        var connections = new ConcurrentBag<PeerConnection>();
        var ended = new ConcurrentBag<string>();
        var failed = new ConcurrentBag<string>();
        var clock = Stopwatch.StartNew();
        var owners = new ConcurrentBag<PeerNode>();
        long heapBefore = ManagedHeap();
        await Parallel.ForEachAsync(Enumerable.Range(0, nodes), new ParallelOptions { MaxDegreeOfParallelism = nodes }, async (n, ct) =>
        {
            var options = new PeerOptions
            {
                Server = server,
                Name = $"idle-{Environment.ProcessId}-{n}",
                IncludeLoopbackCandidates = true,
                Relay = RelayMode.Never,
                Timeout = TimeSpan.FromSeconds(60),
            };
            PeerNode node = await PeerNode.StartAsync(options, null, ct);
            owners.Add(node);
            for (int i = n; i < sessions; i += nodes)
            {
                PeerConnection connection;
                try
                {
                    connection = await node.ConnectAsync(peer, ct);
                }
                catch (ConnectException e)
                {
                    failed.Add(e.Message);
                    continue;
                }
                connection.Ended += reason => ended.Add(reason);
                connections.Add(connection);
                if (connections.Count % 100 == 0)
                {
                    Console.Error.WriteLine($"{connections.Count} sessions after {clock.Elapsed.TotalSeconds:0.0} s");
                }
            }
        });
        Console.WriteLine($"open {connections.Count} {clock.Elapsed.TotalSeconds:0.0} failed {failed.Count}");
        foreach (string reason in failed.Distinct().Take(5))
        {
            Console.Error.WriteLine($"a connect failed: {reason}");
        }
        await Task.Delay(TimeSpan.FromSeconds(5));
        Console.Error.WriteLine($"managed heap per session (this side): {(ManagedHeap() - heapBefore) / 1024.0 / Math.Max(1, connections.Count):0.0} KiB");
        Task stdinClosed = Task.Run(() => Console.In.ReadToEnd());
        await Task.WhenAny(stdinClosed, Task.Delay(TimeSpan.FromSeconds(hold)));
        Console.WriteLine($"held {connections.Count - ended.Count} ended {ended.Count}");
        foreach (PeerNode node in owners)
        {
            await node.DisposeAsync();
        }
        return ended.IsEmpty ? 0 : 1;
    }
}
