using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NatPunch.Protocol.Stun;
using NatPunch.Server;

namespace NatPunch.Benchmarks;

/// <summary>
/// Runs the real server in this process and counts, over many UDP round trips, the bytes the
/// whole process allocates and the garbage collections that happen. The UDP loop's goal is zero
/// per datagram: no garbage, no collections, no pauses under load.
/// </summary>
internal static class UdpLoopAllocationCheck
{
    public static int Run(int requests)
    {
        var server = new NatPunchServer(new NatPunchServerOptions { Listen = [new IPEndPoint(IPAddress.Loopback, 0)] });
        server.Start();
        try
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            client.ReceiveTimeout = 1000;
            client.Connect(server.UdpEndPoints[0]);
            var request = new byte[StunConstants.HeaderLength];
            _ = new StunMessageBuilder(request, StunMessageType.BindingRequest, TransactionId.NewRandom());
            var response = new byte[2048];

            // Warm up until the loop's methods have reached their final JIT tier.
            RoundTrips(client, request, response, 50_000);
            Thread.Sleep(1000);
            RoundTrips(client, request, response, 50_000);

            int[] collectionsBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
            long bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            RoundTrips(client, request, response, requests);
            TimeSpan elapsed = clock.Elapsed;
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - bytesBefore;
            int[] collections = [GC.CollectionCount(0) - collectionsBefore[0], GC.CollectionCount(1) - collectionsBefore[1],
                GC.CollectionCount(2) - collectionsBefore[2]];

            double perRequest = (double)allocated / requests;
            Console.WriteLine($"{requests:N0} UDP round trips in {elapsed.TotalSeconds:0.0} s through the server (whole process, client included): "
                + $"{allocated:N0} bytes allocated ({perRequest:0.###} bytes per request), "
                + $"GC collections gen0/gen1/gen2: {collections[0]}/{collections[1]}/{collections[2]}; server GC: {System.Runtime.GCSettings.IsServerGC}");
            // Less than a byte per request: allocations that don't scale with traffic (timers, tiering) only.
            return perRequest < 1 ? 0 : 1;
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void RoundTrips(Socket client, byte[] request, byte[] response, int count)
    {
        for (int i = 0; i < count; i++)
        {
            client.Send(request);
            client.Receive(response);
        }
    }
}
