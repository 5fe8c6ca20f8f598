using System.Net;
using System.Net.Sockets;

namespace NatPunch.Stun.Internal;

/// <summary>
/// A transaction in flight in a <see cref="StunClient"/>: the core, the task its caller awaits, and
/// the sockets involved. With RESPONSE-PORT (RFC 5780 §7.5) the response may arrive on another
/// client's socket, so the entry can sit in two clients' tables at once.
/// </summary>
internal sealed class PendingTransaction
{
    private int _finished;

    public PendingTransaction(StunClientTransaction core, StunClient sender, StunClient? receiver, IPEndPoint destination, SocketAddress destinationAddress)
    {
        Core = core;
        Sender = sender;
        Receiver = receiver;
        Destination = destination;
        DestinationAddress = destinationAddress;
    }

    /// <summary>Guards <see cref="Core"/>: the sender's timer and the receive loops of both clients use it.</summary>
    public Lock Gate { get; } = new();

    public StunClientTransaction Core { get; }

    /// <summary>The client whose socket sends, and whose timer retransmits.</summary>
    public StunClient Sender { get; }

    /// <summary>Another client whose socket may receive the response, or null.</summary>
    public StunClient? Receiver { get; }

    public IPEndPoint Destination { get; }

    public SocketAddress DestinationAddress { get; }

    public TaskCompletionSource<StunResponse> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The caller's cancellation; set before the first send.</summary>
    public CancellationTokenRegistration Registration { get; set; }

    /// <summary>True for the one caller that gets to finish the transaction.</summary>
    public bool TryMarkFinished() => Interlocked.Exchange(ref _finished, 1) == 0;
}
