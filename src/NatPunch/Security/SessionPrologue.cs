using System.Text;

namespace NatPunch.Security;

/// <summary>
/// What the handshake is bound to (Noise §6 prologue): the protocol, the session id and both peers'
/// ICE credentials, initiator's first, each length-prefixed. Both sides learnt these through the
/// rendezvous; a server that gave them different values (swapped credentials, spliced sessions)
/// breaks the handshake instead of joining two sessions.
/// </summary>
public static class SessionPrologue
{
    public static byte[] Build(string session, string initiatorUfrag, string initiatorPwd, string responderUfrag, string responderPwd)
    {
        var bytes = new List<byte>();
        foreach (string part in new[] { "natpunch session 1", session, initiatorUfrag, initiatorPwd, responderUfrag, responderPwd })
        {
            byte[] text = Encoding.UTF8.GetBytes(part);
            bytes.Add((byte)(text.Length >> 8));
            bytes.Add((byte)text.Length);
            bytes.AddRange(text);
        }
        return bytes.ToArray();
    }
}
