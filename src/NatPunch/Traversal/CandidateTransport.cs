namespace NatPunch.Traversal;

/// <summary>How a candidate is reached: UDP datagrams, or a TCP connection punched by simultaneous open (RFC 6544's idea).</summary>
public enum CandidateTransport
{
    Udp,
    Tcp,
}
