using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NatPunch.Protocol.Net;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Stun;
using NatPunch.Server.Turn;

namespace NatPunch.Server.Internal;

/// <summary>
/// <see cref="UdpStunLoop"/> for Linux: one <c>recvmmsg</c> takes every datagram already queued
/// (up to a batch), each is answered as before, and one <c>sendmmsg</c> sends the answers. Under
/// load that is two system calls per batch instead of two per datagram; when idle it blocks
/// for the first datagram exactly like the portable loop.
/// </summary>
internal sealed class UdpBatchStunLoop
{
    /// <summary>Datagrams per system call: enough to amortise the call, small enough to keep buffers in cache.</summary>
    private const int BatchSize = 32;

    private const int MaxDatagram = 65536;

    private readonly Socket[] _sockets;
    private readonly Socket _socket;
    private readonly int _index;
    private readonly StunBindingResponder _responder;
    private readonly ServerCounters _counters;
    private readonly ILogger _logger;
    private readonly IPEndPoint _localEndPoint;
    private readonly int _addressSize;

    // The TURN clients this loop heard from last, by raw sockaddr, so that a relayed datagram does
    // not build an IPAddress and an IPEndPoint (this loop's thread only).
    private const int TurnClientCacheSize = 16;
    private readonly byte[] _turnClientAddresses = new byte[TurnClientCacheSize * LinuxDatagramBatch.AddressSize];
    private readonly TurnClient[] _turnClients = new TurnClient[TurnClientCacheSize];
    private int _turnClientCount;
    private int _turnClientNext;
    private readonly TurnService? _turn;

    // The TURN datagrams of the current batch (index, client), handed to the service at once.
    private readonly int[] _turnIndices = new int[BatchSize];
    private readonly TurnClient[] _turnBatch = new TurnClient[BatchSize];
    private int _turnCount;

    public UdpBatchStunLoop(Socket[] sockets, int index, StunBindingResponder responder, ServerCounters counters, ILogger logger, TurnService? turn = null)
    {
        _turn = turn;
        _sockets = sockets;
        _socket = sockets[index];
        _index = index;
        _responder = responder;
        _counters = counters;
        _logger = logger;
        _localEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _addressSize = SocketAddressBytes.SizeOf(_socket.AddressFamily);
    }

    public void Run(CancellationToken cancellationToken)
    {
        // Every slot holds a whole datagram, as the portable loop's buffer does: nothing is truncated.
        var requests = new LinuxDatagramBatch(BatchSize, MaxDatagram);
        var responses = new LinuxDatagramBatch(BatchSize, StunBindingResponder.MaxResponseLength(MaxDatagram));
        var otherDestination = new SocketAddress(_socket.AddressFamily);
        SafeHandle handle;
        bool referenced = false;
        try
        {
            handle = _socket.SafeHandle;
            // The descriptor must not be closed (and its number reused) while this thread uses it.
            handle.DangerousAddRef(ref referenced);
        }
        catch (ObjectDisposedException)
        {
            return; // the server stopped before this thread got going
        }
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int received = requests.Receive(handle, out SocketError error);
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                if (received < 0)
                {
                    OnReceiveError(error, cancellationToken);
                    continue;
                }
                int queued = 0, datagrams = 0;
                _turnCount = 0;
                for (int i = 0; i < received; i++)
                {
                    queued += Answer(requests, i, responses, queued, otherDestination, ref datagrams);
                }
                if (_turnCount > 0)
                {
                    _turn!.HandleFromClients(requests, _turnIndices.AsSpan(0, _turnCount), _turnBatch.AsSpan(0, _turnCount));
                }
                _counters.CountRequests(datagrams);
                Flush(responses, handle, queued);
            }
        }
        finally
        {
            if (referenced)
            {
                handle.DangerousRelease();
            }
        }
    }

    private TurnClient TurnClientFor(ReadOnlySpan<byte> from, ReadOnlySpan<byte> address, int port)
    {
        for (int i = 0; i < _turnClientCount; i++)
        {
            if (from.SequenceEqual(_turnClientAddresses.AsSpan(i * LinuxDatagramBatch.AddressSize, from.Length)))
            {
                return _turnClients[i];
            }
        }
        var client = TurnClient.Create(new IPEndPoint(new IPAddress(address), port), _localEndPoint, TurnClientTransport.Udp);
        int slot = _turnClientNext;
        _turnClientNext = (slot + 1) % TurnClientCacheSize;
        _turnClientCount = Math.Min(_turnClientCount + 1, TurnClientCacheSize);
        from.CopyTo(_turnClientAddresses.AsSpan(slot * LinuxDatagramBatch.AddressSize));
        _turnClients[slot] = client;
        return client;
    }

    /// <summary>
    /// Answers datagram <paramref name="i"/>; returns 1 if the answer was queued in slot
    /// <paramref name="slot"/> of <paramref name="responses"/>. Counts STUN (not TURN) in <paramref name="datagrams"/>.
    /// </summary>
    private int Answer(LinuxDatagramBatch requests, int i, LinuxDatagramBatch responses, int slot, SocketAddress otherDestination,
        ref int datagrams)
    {
        Span<byte> from = requests.Address(i)[..requests.AddressLength(i)];
        if (from.Length != _addressSize)
        {
            // Not a datagram: what a socket being closed under the call returns.
            return 0;
        }
        Span<byte> clientAddress = stackalloc byte[16];
        int addressLength = SocketAddressBytes.GetAddress(from, _socket.AddressFamily, clientAddress, out int clientPort);
        ReadOnlySpan<byte> datagram = requests.Buffer(i)[..requests.Length(i)];
        if (_turn is not null && TurnDemultiplexer.IsTurn(datagram))
        {
            // TURN has state: the service answers (and relays) on its own, after the batch, all
            // of the batch's TURN datagrams under one lock.
            _turnIndices[_turnCount] = i;
            _turnBatch[_turnCount++] = TurnClientFor(from, clientAddress[..addressLength], clientPort);
            return 0;
        }
        datagrams++;
        Span<byte> response = responses.Buffer(slot);
        StunResponse outcome = _responder.Respond(datagram, clientAddress[..addressLength],
            clientPort, _index, overTcp: false, response);
        if (!outcome.HasResponse)
        {
            _counters.CountDrop(outcome.Dropped);
            return 0;
        }
        Span<byte> to = responses.Address(slot)[.._addressSize];
        from.CopyTo(to);
        if (outcome.DestinationPort != 0)
        {
            SocketAddressBytes.SetPort(to, outcome.DestinationPort);
        }
        if (outcome.SendFromIndex == _index)
        {
            responses.PrepareSend(slot, outcome.Length, _addressSize);
            return 1;
        }
        // RFC 5780 CHANGE-REQUEST: the answer leaves from another socket, on its own.
        to.CopyTo(otherDestination.Buffer.Span);
        try
        {
            _sockets[outcome.SendFromIndex].SendTo(response[..outcome.Length], SocketFlags.None, otherDestination);
            _counters.CountResponse();
        }
        catch (SocketException)
        {
            _counters.CountSendError();
        }
        return 0;
    }

    private void Flush(LinuxDatagramBatch responses, SafeHandle handle, int count)
    {
        int done = 0;
        while (done < count)
        {
            int sent = responses.Send(handle, done, count - done, out _);
            if (sent <= 0)
            {
                // The first unsent answer failed (its peer's problem, not the socket's): count it, go on.
                _counters.CountSendError();
                done++;
                continue;
            }
            _counters.CountResponses(sent);
            done += sent;
        }
    }

    private void OnReceiveError(SocketError error, CancellationToken cancellationToken)
    {
        // The wake-up timeout, a signal, ICMP errors from earlier sends: nothing wrong with the socket.
        if (error is SocketError.WouldBlock or SocketError.Interrupted or SocketError.ConnectionRefused or SocketError.MessageSize)
        {
            return;
        }
        ServerLog.ReceiveFailed(_logger, _localEndPoint, error.ToString());
        cancellationToken.WaitHandle.WaitOne(100);
    }
}
