using System.Text.Json;

namespace NatPunch.Protocol.Rendezvous;

/// <summary>Turns rendezvous messages into frames and frames back into messages; parsing never throws.</summary>
public static class RendezvousCodec
{
    /// <summary>The whole frame (header and JSON) for <paramref name="message"/>.</summary>
    public static byte[] Encode(RendezvousMessage message)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(message, RendezvousJsonContext.Default.RendezvousMessage);
        var frame = new byte[RendezvousFrame.HeaderLength + json.Length];
        RendezvousFrame.WriteHeader(frame, json.Length);
        json.CopyTo(frame, RendezvousFrame.HeaderLength);
        return frame;
    }

    /// <summary>The JSON of <paramref name="message"/> alone, without a frame header (what a <see cref="SealedSignalMessage"/> seals).</summary>
    public static byte[] EncodeJson(RendezvousMessage message) =>
        JsonSerializer.SerializeToUtf8Bytes(message, RendezvousJsonContext.Default.RendezvousMessage);

    /// <summary>Parses a frame's JSON payload. On failure <paramref name="error"/> says why.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out RendezvousMessage message, out string error)
    {
        message = null!;
        try
        {
            RendezvousMessage? parsed = JsonSerializer.Deserialize(payload, RendezvousJsonContext.Default.RendezvousMessage);
            if (parsed is null)
            {
                error = "empty message";
                return false;
            }
            if (!IsComplete(parsed, out error))
            {
                return false;
            }
            message = parsed;
            return true;
        }
        catch (JsonException e)
        {
            error = $"not a rendezvous message: {e.Message}";
            return false;
        }
        catch (NotSupportedException e)
        {
            error = $"unknown message type: {e.Message}";
            return false;
        }
    }

    /// <summary>JSON may omit required properties; reject messages that lack what their handler needs.</summary>
    private static bool IsComplete(RendezvousMessage message, out string error)
    {
        error = message switch
        {
            RegisterMessage m when string.IsNullOrWhiteSpace(m.Name) => "register needs a name",
            RegisterMessage m when m.Offer is not null && !IsComplete(m.Offer) => "register has an incomplete offer",
            ConnectMessage m when string.IsNullOrWhiteSpace(m.Peer) => "connect needs a peer",
            ConnectMessage m when m.Offer is null || !IsComplete(m.Offer) => "connect needs a complete offer",
            UpdateOfferMessage m when m.Offer is null || !IsComplete(m.Offer) => "update needs a complete offer",
            IntroduceMessage m when m.Offer is null || !IsComplete(m.Offer) || m.Session is null || m.Peer is null => "introduce is incomplete",
            CandidateMessage m when m.Session is null || m.Candidate is null || !IsComplete(m.Candidate) => "candidate is incomplete",
            RestartMessage m when m.Session is null || m.Offer is null || !IsComplete(m.Offer) => "restart is incomplete",
            ResumeMessage m when string.IsNullOrEmpty(m.Session) || string.IsNullOrEmpty(m.Peer) => "resume needs a session and a peer",
            ResumeKeyMessage m when string.IsNullOrEmpty(m.Session) || string.IsNullOrEmpty(m.Anchor) => "resume-key needs a session and an anchor",
            SealedSignalMessage m when string.IsNullOrEmpty(m.Session) || string.IsNullOrEmpty(m.Box) => "sealed needs a session and a box",
            ErrorMessage m when m.Code is null => "error needs a code",
            _ => string.Empty,
        };
        return error.Length == 0;
    }

    private static bool IsComplete(PeerOffer offer) =>
        !string.IsNullOrEmpty(offer.Ufrag) && !string.IsNullOrEmpty(offer.Pwd) && offer.Candidates is not null && offer.Candidates.All(c => c is not null && IsComplete(c));

    private static bool IsComplete(CandidateInfo candidate) =>
        !string.IsNullOrEmpty(candidate.Type) && !string.IsNullOrEmpty(candidate.Address) && candidate.Foundation is not null;
}
