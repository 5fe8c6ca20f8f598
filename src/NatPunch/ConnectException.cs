namespace NatPunch;

/// <summary>A connection could not be made; the message says why in words a user can act on.</summary>
public sealed class ConnectException(string message, Exception? inner = null, ConnectFailure failure = ConnectFailure.Other) : Exception(message, inner)
{
    /// <summary>What kind of failure, for a program that reacts to some (a command line adds its own advice).</summary>
    public ConnectFailure Failure { get; } = failure;
}

/// <summary>The kinds of <see cref="ConnectException"/> a program may want to tell apart.</summary>
public enum ConnectFailure
{
    Other,

    /// <summary>The peer was introduced, but no candidate pair worked (nor a relay, where one was allowed).</summary>
    NoPath,

    /// <summary>The NatPunch server runs no TURN relay, and only a relay was allowed.</summary>
    ServerOffersNoRelay,

    /// <summary>Relaying only was allowed, and no relay could be had.</summary>
    NoRelay,
}
