namespace NatPunch;

/// <summary>A connection could not be made; the message says why in words a user can act on.</summary>
public sealed class ConnectException(string message, Exception? inner = null) : Exception(message, inner);
