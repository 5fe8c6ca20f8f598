using System.Net;

namespace NatPunch.Session;

/// <summary>
/// A datagram a <see cref="PeerSession"/> wants sent: from the session's socket to <paramref name="To"/>,
/// or, with <paramref name="Via"/>, to that relay attempt's server on its transport, or with
/// <paramref name="Tcp"/> on the punched TCP connection to <paramref name="To"/>.
/// </summary>
internal readonly record struct SessionTransmit(IPEndPoint To, ReadOnlyMemory<byte> Payload, RelayAttempt? Via, bool Tcp = false);
