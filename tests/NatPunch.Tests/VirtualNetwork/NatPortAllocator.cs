using System.Net;

namespace NatPunch.Tests.VirtualNetwork;

/// <summary>Chooses external ports for new mappings (RFC 4787 §4.2.1) and knows which are taken.</summary>
internal sealed class NatPortAllocator
{
    private const int RandomAttempts = 64;

    private readonly NatBehavior _behavior;
    private readonly Random _random;
    // External endpoints held by live mappings. Lookup only.
    private readonly HashSet<IPEndPoint> _inUse = [];
    // Per public address: where the next sequential allocation starts.
    private readonly Dictionary<IPAddress, int> _nextSequential = [];

    public NatPortAllocator(NatBehavior behavior, Random random)
    {
        if (behavior.FirstPort < 1 || behavior.LastPort > 65535 || behavior.FirstPort > behavior.LastPort)
        {
            throw new ArgumentException($"Bad external port range {behavior.FirstPort}–{behavior.LastPort}.");
        }
        _behavior = behavior;
        _random = random;
    }

    public bool TryAllocate(IPAddress external, int internalPort, out int port)
    {
        port = _behavior.PortAssignment switch
        {
            PortAssignment.Preservation => IsFree(external, internalPort) ? internalPort : Scan(external, internalPort + 1),
            PortAssignment.Sequential => Sequential(external),
            _ => RandomPort(external),
        };
        if (port == 0)
        {
            return false;
        }
        _inUse.Add(new IPEndPoint(external, port));
        return true;
    }

    public void Release(IPEndPoint external) => _inUse.Remove(external);

    private bool IsFree(IPAddress external, int port) =>
        port >= _behavior.FirstPort && port <= _behavior.LastPort && !_inUse.Contains(new IPEndPoint(external, port));

    private int Sequential(IPAddress external)
    {
        int start = _nextSequential.GetValueOrDefault(external, _behavior.FirstPort);
        int port = Scan(external, start);
        if (port != 0)
        {
            _nextSequential[external] = port == _behavior.LastPort ? _behavior.FirstPort : port + 1;
        }
        return port;
    }

    private int RandomPort(IPAddress external)
    {
        for (int i = 0; i < RandomAttempts; i++)
        {
            int port = _random.Next(_behavior.FirstPort, _behavior.LastPort + 1);
            if (IsFree(external, port))
            {
                return port;
            }
        }
        return Scan(external, _random.Next(_behavior.FirstPort, _behavior.LastPort + 1));
    }

    /// <summary>The first free port from <paramref name="start"/> on, wrapping around the range; 0 if none.</summary>
    private int Scan(IPAddress external, int start)
    {
        int size = _behavior.LastPort - _behavior.FirstPort + 1;
        int offset = Math.Clamp(start, _behavior.FirstPort, _behavior.LastPort + 1) - _behavior.FirstPort;
        for (int i = 0; i < size; i++)
        {
            int port = _behavior.FirstPort + (offset + i) % size;
            if (IsFree(external, port))
            {
                return port;
            }
        }
        return 0;
    }
}
