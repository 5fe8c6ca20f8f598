using System.Net.Sockets;
using System.Text;
using NatPunch.Streams;

namespace NatPunch.Forwarding;

/// <summary>
/// The first bytes of a forwarded stream (docs/port-forwarding.md): the forwarding side writes the
/// 4-byte request <c>NPF1</c>; the exposing side connects to its one target and answers with a status
/// byte, a reason length byte and the reason in UTF-8. Only then do bytes flow (the forwarding side may
/// send its client's first bytes right behind the request; they wait in the stream).
/// </summary>
public static class ForwardingHandshake
{
    /// <summary>"NPF1": NatPunch forwarding, version 1. The request names no target: the exposing side has exactly one.</summary>
    public static ReadOnlySpan<byte> Request => "NPF1"u8;

    private const int MaxReasonBytes = 255;

    public static ValueTask WriteRequestAsync(Stream stream, CancellationToken cancellationToken) =>
        stream.WriteAsync(Request.ToArray(), cancellationToken);

    /// <summary>Reads the request; false if the stream starts with anything else (or ends first).</summary>
    public static async Task<bool> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] request = new byte[Request.Length];
        try
        {
            await stream.ReadExactlyAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return false;
        }
        return request.AsSpan().SequenceEqual(Request);
    }

    public static async ValueTask WriteReplyAsync(Stream stream, ForwardingStatus status, string reason, CancellationToken cancellationToken)
    {
        byte[] text = Encoding.UTF8.GetBytes(reason);
        int length = Math.Min(text.Length, MaxReasonBytes);
        while (length > 0 && length < text.Length && (text[length] & 0xC0) == 0x80)
        {
            length--; // never cut a character in half
        }
        byte[] reply = new byte[2 + length];
        reply[0] = (byte)status;
        reply[1] = (byte)length;
        text.AsSpan(0, length).CopyTo(reply.AsSpan(2));
        await stream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the exposing side's answer; an answer cut short is <see cref="ForwardingStatus.BadRequest"/> with why.</summary>
    public static async Task<(ForwardingStatus Status, string Reason)> ReadReplyAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] head = new byte[2];
        try
        {
            await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
            byte[] reason = new byte[head[1]];
            await stream.ReadExactlyAsync(reason, cancellationToken).ConfigureAwait(false);
            var status = (ForwardingStatus)head[0];
            return (Enum.IsDefined(status) ? status : ForwardingStatus.Failed, Encoding.UTF8.GetString(reason));
        }
        catch (EndOfStreamException)
        {
            return (ForwardingStatus.BadRequest, "the exposing side closed the stream without answering (is it 'natpunch expose'?)");
        }
    }

    /// <summary>The status and a sentence for a failed connect to the target.</summary>
    public static (ForwardingStatus Status, string Reason) Describe(Exception failure, string target) => failure switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => (ForwardingStatus.Refused, $"{target} refused the connection"),
        SocketException { SocketErrorCode: SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound or SocketError.NoData } e
            => (ForwardingStatus.Unreachable, $"{target} cannot be reached: {e.Message}"),
        SocketException { SocketErrorCode: SocketError.TimedOut } or OperationCanceledException or TimeoutException
            => (ForwardingStatus.TimedOut, $"{target} did not answer in time"),
        _ => (ForwardingStatus.Failed, $"connecting to {target} failed: {failure.Message}"),
    };

    /// <summary>Resets a stream whose forwarding failed after it began, with the reason for the peer's log.</summary>
    public static void Abort(ReliableStream stream, string reason) => stream.Abort(StreamResetCode.ApplicationBase + 1, reason);
}
