using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NatPunch.Net;

/// <summary>
/// Opens a tunnel through an HTTP proxy with CONNECT (RFC 9110 §9.3.6), Basic credentials if given
/// (RFC 7617). After a 2xx the socket carries the target's bytes.
/// </summary>
internal static class HttpConnectTunnel
{
    /// <summary>A proxy's answer longer than this is not an answer to CONNECT.</summary>
    private const int MaxResponseHeader = 16 * 1024;

    public static async Task OpenAsync(Socket socket, HostAndPort target, HttpProxy proxy, CancellationToken cancellationToken)
    {
        string authority = target.ToString(); // [v6]:port keeps its brackets
        var request = new StringBuilder();
        request.Append($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: natpunch\r\n");
        if (proxy.Credentials is { } credentials)
        {
            string basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}"));
            request.Append($"Proxy-Authorization: Basic {basic}\r\n");
        }
        request.Append("\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), SocketFlags.None, cancellationToken).ConfigureAwait(false);

        // Read the answer's head only. The target says nothing before we do (both the rendezvous and
        // TLS begin with the client), so nothing of its bytes can be in these reads.
        byte[] buffer = new byte[MaxResponseHeader];
        int filled = 0;
        int end;
        while ((end = HttpConnectAnswer.HeadEnd(buffer.AsSpan(0, filled))) < 0)
        {
            if (filled == buffer.Length)
            {
                throw new ServerConnectionException(ServerConnectionFailure.ProxyRefused, $"the proxy {proxy} sent a header of more than {MaxResponseHeader} bytes");
            }
            int read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new ServerConnectionException(ServerConnectionFailure.ProxyRefused, $"the proxy {proxy} closed the connection without answering CONNECT {authority}");
            }
            filled += read;
        }
        if (!HttpConnectAnswer.TryParse(buffer.AsSpan(0, end), out int status, out string reasonPhrase, out string statusLine))
        {
            throw new ServerConnectionException(ServerConnectionFailure.ProxyRefused, $"{proxy} is not an HTTP proxy (it answered '{statusLine}')");
        }
        if (status is >= 200 and < 300)
        {
            if (end + 4 != filled)
            {
                throw new ServerConnectionException(ServerConnectionFailure.ProxyRefused, $"the proxy {proxy} sent bytes after its answer to CONNECT");
            }
            return;
        }
        string reason = reasonPhrase.Length > 0 ? $"{status} {reasonPhrase}" : status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (status == (int)HttpStatusCode.ProxyAuthenticationRequired)
        {
            throw new ServerConnectionException(ServerConnectionFailure.ProxyAuthenticationRequired, proxy.Credentials is null
                ? $"the proxy {proxy} requires authentication ({reason}); give the credentials in the proxy URL: http://USER:PASSWORD@HOST:PORT"
                : $"the proxy {proxy} refused the credentials of user '{proxy.Credentials.UserName}' ({reason})");
        }
        throw new ServerConnectionException(ServerConnectionFailure.ProxyRefused, $"the proxy {proxy} refused CONNECT to {authority}: {reason}");
    }
}
