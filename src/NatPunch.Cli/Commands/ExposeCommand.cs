using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using NatPunch.Cli.Peer;
using NatPunch.Forwarding;
using NatPunch.Streams;

namespace NatPunch.Cli.Commands;

/// <summary>
/// <c>natpunch expose --id NAME --allow KEY [HOST:]PORT</c>: registers NAME and lets the allowed peers
/// (<c>natpunch forward</c>) open streams, each of which becomes one TCP connection to that one target,
/// and to no other: the request names no target, so this is no open proxy. Any number of peers, each
/// with any number of connections, until interrupted.
/// </summary>
internal static class ExposeCommand
{
    /// <summary>How long a connection to the target may take before the peer is told it timed out.</summary>
    private static readonly TimeSpan TargetConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a peer's new stream may take to send its request.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var shared = new PeerCommandOptions(connect: false, exposes: true);
        var target = new Argument<string>("target")
        {
            HelpName = "[HOST:]PORT",
            Description = "The TCP service peers reach: PORT on 127.0.0.1, or HOST:PORT (a name, an IPv4 address, or [IPv6]:PORT).",
        };
        var command = new Command("expose", "Register NAME and serve one local TCP service to allowed peers, who reach it with 'natpunch forward'.");
        shared.AddTo(command);
        command.Arguments.Add(target);
        command.SetAction((parse, cancellationToken) =>
        {
            string text = parse.GetValue(target)!;
            if (!TryParseTarget(text, out HostAndPort service, out string error))
            {
                return Task.FromResult(PeerCommands.Usage(parse, error));
            }
            return PeerCommands.RunPeerCommandAsync(shared, parse, (options, printer) => RunAsync(options, service, printer, cancellationToken));
        });
        return command;
    }

    /// <summary><c>PORT</c> (on 127.0.0.1) or <c>HOST:PORT</c>.</summary>
    internal static bool TryParseTarget(string text, out HostAndPort target, out string error)
    {
        if (int.TryParse(text, out int port))
        {
            text = $"127.0.0.1:{port}";
        }
        if (!HostAndPort.TryParse(text, defaultPort: 0, out target, out error) || target.Port == 0)
        {
            error = $"target '{text}': {(error.Length > 0 ? error : "a port is needed")}";
            return false;
        }
        return true;
    }

    private static async Task<int> RunAsync(PeerOptions options, HostAndPort target, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        await using PeerNode node = await PeerNode.ListenAsync(options, printer, cancellationToken);
        printer.Emit(new JsonObject { ["event"] = "exposing", ["name"] = node.Name, ["target"] = target.ToString() },
            $"exposing {target} as '{node.Name}': peers reach it with 'natpunch forward --peer {node.Name} PORT'");
        var sessions = new List<Task>();
        try
        {
            while (true)
            {
                PeerConnection connection = await node.AcceptAsync(cancellationToken);
                sessions.RemoveAll(task => task.IsCompleted);
                sessions.Add(Task.Run(() => ServeAsync(connection, target, printer, cancellationToken), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAll(sessions);
            printer.Emit(new JsonObject { ["event"] = "stopped" }, "stopped");
            return 0;
        }
    }

    /// <summary>One peer: each stream it opens is one connection to the target, until the session ends.</summary>
    private static async Task ServeAsync(PeerConnection connection, HostAndPort target, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        await using (connection)
        {
            printer.Emit(new JsonObject
            {
                ["event"] = "peer_connected",
                ["peer"] = connection.Peer,
                ["peer_key"] = connection.PeerKey.ToString(),
                ["path"] = connection.Path.Kind,
                ["remote"] = ProgressPrinter.Format(connection.Path.Remote),
            }, $"peer '{connection.Peer}' connected {(connection.Path.Direct ? "directly" : "through the relay")} from {ProgressPrinter.Format(connection.Path.Remote)} (key {connection.PeerKey})");
            var streams = new List<Task>();
            string reason = "interrupted";
            try
            {
                while (true)
                {
                    ReliableStream stream = await connection.AcceptStreamAsync(cancellationToken);
                    streams.RemoveAll(task => task.IsCompleted);
                    streams.Add(Task.Run(() => ServeStreamAsync(connection.Peer, stream, target, printer, cancellationToken), CancellationToken.None));
                }
            }
            catch (IOException e)
            {
                reason = e.Message;
            }
            catch (OperationCanceledException)
            {
            }
            await Task.WhenAll(streams);
            printer.Emit(new JsonObject { ["event"] = "peer_disconnected", ["peer"] = connection.Peer, ["reason"] = reason },
                $"peer '{connection.Peer}' disconnected: {reason}");
        }
    }

    private static async Task ServeStreamAsync(string peer, ReliableStream stream, HostAndPort target, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        uint id = stream.Options.StreamId;
        await using (stream)
        {
            using var requestWait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            requestWait.CancelAfter(RequestTimeout);
            bool understood;
            try
            {
                understood = await ForwardingHandshake.ReadRequestAsync(stream, requestWait.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                understood = false;
            }
            if (!understood)
            {
                await RefuseAsync(stream, peer, id, ForwardingStatus.BadRequest, "the stream did not start with a forwarding request", printer, cancellationToken);
                return;
            }

            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var connectWait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                connectWait.CancelAfter(TargetConnectTimeout);
                IPEndPoint endPoint = await target.ResolveAsync(cancellationToken: connectWait.Token);
                await socket.ConnectAsync(endPoint, connectWait.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                (ForwardingStatus status, string reason) = ForwardingHandshake.Describe(e, target.ToString());
                await RefuseAsync(stream, peer, id, status, reason, printer, cancellationToken);
                return;
            }
            await ForwardingHandshake.WriteReplyAsync(stream, ForwardingStatus.Connected, "", cancellationToken);
            printer.Emit(new JsonObject { ["event"] = "stream_open", ["peer"] = peer, ["stream"] = id, ["target"] = target.ToString() },
                $"peer '{peer}' stream {id}: connected to {target}");
            TcpStreamBridge.Result result = await TcpStreamBridge.RunAsync(socket, stream, "the target", cancellationToken);
            printer.StreamClosed($"peer '{peer}' stream {id}", result, ("peer", peer), ("stream", id));
        }
    }

    /// <summary>Tells the peer why its connection could not be made, logs it, and ends the stream cleanly.</summary>
    private static async Task RefuseAsync(ReliableStream stream, string peer, uint id, ForwardingStatus status, string reason, ProgressPrinter printer, CancellationToken cancellationToken)
    {
        printer.Emit(new JsonObject { ["event"] = "stream_refused", ["peer"] = peer, ["stream"] = id, ["status"] = status.ToString().ToLowerInvariant(), ["reason"] = reason },
            $"peer '{peer}' stream {id}: {reason}");
        try
        {
            await ForwardingHandshake.WriteReplyAsync(stream, status, reason, cancellationToken);
            await stream.CompleteWritesAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The peer is gone too: nothing more to tell it.
        }
    }
}
