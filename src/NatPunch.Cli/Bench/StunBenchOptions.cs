using System.Net;

namespace NatPunch.Cli.Bench;

/// <summary>Parameters of one <c>natpunch bench stun</c> run.</summary>
internal sealed record StunBenchOptions
{
    public static readonly StunBenchOptions Default = new() { Server = new IPEndPoint(IPAddress.Loopback, 3478) };

    public required IPEndPoint Server { get; init; }

    /// <summary>Length of the measured period.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Load before the measured period, not counted: JIT tiering, socket buffers, CPU frequency settle.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>UDP sockets, each with its own thread and source port.</summary>
    public int Clients { get; init; } = 2;

    /// <summary>Requests each socket keeps outstanding.</summary>
    public int Window { get; init; } = 32;

    /// <summary>A request unanswered for this long is counted lost and its slot sent again.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Linux recvmmsg/sendmmsg where available; false forces one system call per datagram.</summary>
    public bool Batched { get; init; } = true;
}
