using NatPunch.Protocol.Rendezvous;

namespace NatPunch.Server.Rendezvous;

/// <summary>
/// Something the directory wants done: send <see cref="Message"/> on a connection, and maybe close it
/// after; <see cref="Refusal"/> says when that close is a limit the server enforces (counted and logged).
/// </summary>
public readonly record struct RendezvousOutput(long ConnectionId, RendezvousMessage? Message, bool Close, ServerRefusal? Refusal = null);
