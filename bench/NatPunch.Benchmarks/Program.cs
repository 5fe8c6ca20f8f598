using BenchmarkDotNet.Running;

namespace NatPunch.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/NatPunch.Benchmarks -- --filter '*'</c> runs the
/// BenchmarkDotNet benchmarks; <c>-- allocations [N]</c> checks that the server's UDP loop
/// allocates nothing per datagram; <c>-- idle-sessions SERVER PEER N</c> is bench/idle-sessions.sh's client.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "idle-sessions")
        {
            return IdleSessionsClient.RunAsync(args[1..]).GetAwaiter().GetResult();
        }
        if (args.Length > 0 && args[0] == "allocations")
        {
            int requests = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
            return UdpLoopAllocationCheck.Run(requests);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
