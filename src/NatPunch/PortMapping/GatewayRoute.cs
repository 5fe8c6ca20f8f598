using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace NatPunch.PortMapping;

/// <summary>The IPv4 default gateway, and this host's address on the way to it (what the gateway sees as the client).</summary>
public sealed record GatewayRoute(IPAddress Gateway, IPAddress Local)
{
    /// <summary>Where the gateway's services are: the standard ports, or a test's stand-in gateway on loopback.</summary>
    internal GatewayPorts Ports { get; init; } = GatewayPorts.Standard;

    /// <summary>The first IPv4 default gateway of an interface that is up, or null (no gateway: nothing to ask).</summary>
    public static GatewayRoute? Find()
    {
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up && nic.OperationalStatus != OperationalStatus.Unknown)
            {
                continue;
            }
            foreach (GatewayIPAddressInformation gateway in nic.GetIPProperties().GatewayAddresses)
            {
                if (gateway.Address.AddressFamily == AddressFamily.InterNetwork && !gateway.Address.Equals(IPAddress.Any)
                    && LocalAddressToward(gateway.Address) is { } local)
                {
                    return new GatewayRoute(gateway.Address, local);
                }
            }
        }
        return null;
    }

    /// <summary>The source address the kernel picks toward <paramref name="destination"/> (a connected UDP socket sends nothing).</summary>
    internal static IPAddress? LocalAddressToward(IPAddress destination)
    {
        try
        {
            using var probe = new Socket(destination.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(destination, 9);
            return ((IPEndPoint)probe.LocalEndPoint!).Address;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
