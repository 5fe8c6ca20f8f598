using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using NatPunch.Cli.Peer;
using NatPunch.Forwarding;
using NatPunch.Streams;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch forward --peer NAME [BIND:]LOCALPORT</c>: listens on a local TCP port and turns each
/// connection accepted there into one stream to the target the peer exposes (<c>natpunch expose</c>),
/// as <c>ssh -L</c> does. All connections share one session; if the session ends for good, the next
/// connection makes a new one. Until interrupted.
/// </summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var shared = new PeerCommandOptions(connect: true, idOptional: true);
        var peer = new Option<string>("--peer") { HelpName = "NAME", Description = "The NAME the peer exposes its service under ('natpunch expose --id NAME').", Required = true };
        var local = new Argument<string>("local")
        {
            HelpName = "[BIND:]LOCALPORT",
            Description = "Where to listen: LOCALPORT on 127.0.0.1, or BIND:LOCALPORT (0.0.0.0 or [::] to accept from other machines).",
        };
        var command = new Command("forward", "Listen on a local TCP port and carry each connection to the service a peer exposes with 'natpunch expose'.");
        shared.AddTo(command);
        command.Options.Add(peer);
        command.Arguments.Add(local);
        command.SetAction((parse, cancellationToken) =>
        {
            string text = parse.GetValue(local)!;
            if (!TryParseBind(text, out IPEndPoint? bind, out string error))
            {
                return Task.FromResult(PeerCommands.Usage(parse, error));
            }
            return PeerCommands.RunPeerCommandAsync(shared, parse, (options, printer) => RunAsync(options, parse.GetValue(peer)!, bind, printer, cancellationToken));
        });
        return command;
    }

    /// <summary><c>PORT</c> (on 127.0.0.1) or <c>IP:PORT</c>, <c>[IPv6]:PORT</c>.</summary>
    internal static bool TryParseBind(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? bind, out string error)
    {
        error = "";
        if (ushort.TryParse(text, out ushort port))
        {
            bind = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }
        if (IPEndPoint.TryParse(text, out bind) && bind.Port != 0 || IPEndPoint.TryParse(text, out bind) && text.EndsWith(":0", StringComparison.Ordinal))
        {
            return true;
        }
        bind = null;
        error = $"'{text}' is not LOCALPORT or BIND:LOCALPORT (an IP address: 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080)";
        return false;
    }

    private static async Task<int> RunAsync(PeerOptions options, string peer, IPEndPoint bind, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        using var listener = new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(bind);
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            printer.Error($"cannot listen on {bind}: {e.Message}");
            return 1;
        }
        await using PeerNode node = await PeerNode.StartAsync(options, printer, cancellationToken);
        await using var session = new ForwardSession(node, peer, printer);
        await session.GetAsync(cancellationToken); // fail now, not at the first connection, if the peer cannot be reached
        var local = (IPEndPoint)listener.LocalEndPoint!;
        printer.Emit(new JsonObject { ["event"] = "forwarding", ["listen"] = ProgressPrinter.Format(local), ["peer"] = peer },
            $"forwarding {ProgressPrinter.Format(local)} to the service '{peer}' exposes");
        var connections = new List<Task>();
        long next = 0;
        try
        {
            while (true)
            {
                Socket client = await listener.AcceptAsync(cancellationToken);
                long number = ++next;
                connections.RemoveAll(task => task.IsCompleted);
                connections.Add(Task.Run(() => CarryAsync(client, number, session, printer, cancellationToken), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAll(connections);
            printer.Emit(new JsonObject { ["event"] = "stopped" }, "stopped");
            return 0;
        }
    }

    /// <summary>One local connection: a stream to the peer, its answer, then bytes both ways until both ends are done.</summary>
    private static async Task CarryAsync(Socket client, long number, ForwardSession session, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        using (client)
        {
            client.NoDelay = true;
            string from = ProgressPrinter.Format((IPEndPoint)client.RemoteEndPoint!);
            ReliableStream stream;
            try
            {
                PeerConnection connection = await session.GetAsync(cancellationToken);
                stream = await connection.OpenStreamAsync(cancellationToken);
            }
            catch (Exception e) when (e is ConnectException or IOException or ObjectDisposedException)
            {
                Refused(number, from, 0, $"no session to the peer: {e.Message}", printer);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            uint id = stream.Options.StreamId;
            await using (stream)
            {
                ForwardingStatus status;
                string reason;
                try
                {
                    await ForwardingHandshake.WriteRequestAsync(stream, cancellationToken);
                    (status, reason) = await ForwardingHandshake.ReadReplyAsync(stream, cancellationToken);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    (status, reason) = (ForwardingStatus.Failed, cancellationToken.IsCancellationRequested ? "interrupted" : e.Message);
                }
                if (status != ForwardingStatus.Connected)
                {
                    Refused(number, from, id, $"the peer could not connect: {reason}", printer);
                    return;
                }
                printer.Emit(new JsonObject { ["event"] = "stream_open", ["connection"] = number, ["client"] = from, ["stream"] = id },
                    $"connection {number} from {from}: open (stream {id})");
                TcpStreamBridge.Result result = await TcpStreamBridge.RunAsync(client, stream, "the client", cancellationToken);
                printer.StreamClosed($"connection {number}", result, ("connection", number), ("stream", id));
            }
        }
    }

    private static void Refused(long number, string from, uint stream, string reason, ProgressPrinter printer) =>
        printer.Emit(new JsonObject { ["event"] = "stream_refused", ["connection"] = number, ["client"] = from, ["stream"] = stream, ["reason"] = reason },
            $"connection {number} from {from}: closed, {reason}");
}
