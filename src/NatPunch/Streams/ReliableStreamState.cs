namespace NatPunch.Streams;

/// <summary>Life of a <see cref="ReliableStreamCore"/>.</summary>
public enum ReliableStreamState
{
    /// <summary>At least one direction has not ended (or not been fully acknowledged / read).</summary>
    Open,

    /// <summary>
    /// Both directions ended, all our data and FIN are acknowledged and all the peer's data was read.
    /// The core lingers (like TCP's TIME-WAIT) to re-acknowledge a retransmitted FIN whose
    /// acknowledgment was lost, and repeats its final ACK unasked, until the peer has been quiet
    /// for a few RTOs.
    /// </summary>
    Lingering,

    /// <summary>Finished cleanly; the core only answers a retransmitted FIN, should one still come.</summary>
    Closed,

    /// <summary>Aborted, by us or by the peer (<see cref="ReliableStreamCore.ResetByPeer"/>).</summary>
    Reset,
}
