using System.Net;

namespace NatPunch.Server.Internal;

/// <summary>
/// How many TCP connections each source (<see cref="SourceKey"/>) holds, against a limit. Without it
/// one address filled the server's global cap and a legitimate register was reset.
/// </summary>
internal sealed class ConnectionsPerAddress(int limit)
{
    private readonly Tally<UInt128> _counts = new();

    /// <summary>Counts a connection from <paramref name="address"/>, unless its source is at the limit; release the key when it closes.</summary>
    public bool TryAdd(IPAddress address, out UInt128 key)
    {
        key = SourceKey.Of(address);
        lock (_counts)
        {
            if (_counts[key] >= limit)
            {
                return false;
            }
            _counts.Add(key);
            return true;
        }
    }

    public void Remove(UInt128 key)
    {
        lock (_counts)
        {
            _counts.Remove(key);
        }
    }
}
