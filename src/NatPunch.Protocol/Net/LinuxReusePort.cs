using System.Net.Sockets;

namespace NatPunch.Protocol.Net;

/// <summary>
/// Linux's SO_REUSEPORT, which .NET has no name for: sockets of one user may bind the same port. The
/// server's UDP sockets use it to spread datagrams over cores, a session's TCP port to listen and
/// connect from one port at once.
/// </summary>
public static class LinuxReusePort
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    public static void Enable(Socket socket) => socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
}
