using System.Security.Cryptography;
using NatPunch.Streams;

namespace NatPunch.Tests.Streams;

/// <summary>
/// An application on one end of a simulated stream: writes a deterministic pseudo-random byte
/// sequence of a given length then finishes, and reads (optionally at a limited rate),
/// hashing both directions.
/// </summary>
public sealed class SimulatedEndpoint
{
    private readonly Random _source;
    private readonly byte[] _chunk = new byte[64 * 1024];
    private readonly byte[] _readBuffer = new byte[64 * 1024];
    private readonly IncrementalHash _sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IncrementalHash _receivedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int _chunkOffset;
    private int _chunkLength;
    private TimeSpan _lastRead;
    private double _readAllowance;

    public SimulatedEndpoint(string name, ReliableStreamCore core, long bytesToSend, int seed)
    {
        Name = name;
        Core = core;
        BytesToSend = bytesToSend;
        _source = new Random(seed);
    }

    public string Name { get; }

    public ReliableStreamCore Core { get; }

    public long BytesToSend { get; }

    public long BytesWritten { get; private set; }

    public long BytesRead { get; private set; }

    /// <summary>Bytes per second the application reads; null for as fast as data comes.</summary>
    public double? ReadRate { get; set; }

    /// <summary>The reader reads nothing before this time.</summary>
    public TimeSpan ReadStallUntil { get; set; }

    /// <summary>Times the application observed end-of-stream becoming true.</summary>
    public int EndOfStreamTransitions { get; private set; }

    public long BytesReadAfterEndOfStream { get; private set; }

    public TimeSpan? ReadFinishedAt { get; private set; }

    public TimeSpan? WriteCompletedAt { get; private set; }

    public byte[]? SentHash { get; private set; }

    public byte[]? ReceivedHash { get; private set; }

    private bool _sawEndOfStream;

    public static readonly TimeSpan ReadInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>When a rate-limited reader next wants to run; null when unlimited.</summary>
    public TimeSpan? NextReadTime(TimeSpan now) =>
        _sawEndOfStream || Core.IsReset ? null
        : now < ReadStallUntil ? ReadStallUntil
        : ReadRate is null ? null
        : _lastRead + ReadInterval;

    public void Step(TimeSpan now)
    {
        if (Core.IsReset)
        {
            return;
        }
        WriteStep();
        if (now >= ReadStallUntil)
        {
            ReadStep(now);
        }
        if (WriteCompletedAt is null && Core.IsWriteCompleted)
        {
            WriteCompletedAt = now;
        }
    }

    private void WriteStep()
    {
        while (BytesWritten < BytesToSend)
        {
            if (_chunkOffset == _chunkLength)
            {
                _chunkLength = (int)Math.Min(_chunk.Length, BytesToSend - BytesWritten);
                _source.NextBytes(_chunk.AsSpan(0, _chunkLength));
                _chunkOffset = 0;
            }
            int written = Core.Write(_chunk.AsSpan(_chunkOffset, _chunkLength - _chunkOffset));
            if (written == 0)
            {
                return;
            }
            _sentHash.AppendData(_chunk.AsSpan(_chunkOffset, written));
            _chunkOffset += written;
            BytesWritten += written;
        }
        if (!Core.IsWriteFinished)
        {
            Core.Finish();
            SentHash = _sentHash.GetHashAndReset();
        }
    }

    private void ReadStep(TimeSpan now)
    {
        long budget = long.MaxValue;
        if (ReadRate is { } rate)
        {
            if (now < _lastRead + ReadInterval)
            {
                return;
            }
            _readAllowance = Math.Min(_readAllowance + (now - _lastRead).TotalSeconds * rate, rate * 0.1);
            _lastRead = now;
            budget = (long)_readAllowance;
        }
        while (budget > 0)
        {
            int read = Core.Read(_readBuffer.AsSpan(0, (int)Math.Min(_readBuffer.Length, budget)));
            if (read == 0)
            {
                break;
            }
            if (_sawEndOfStream)
            {
                BytesReadAfterEndOfStream += read;
            }
            _receivedHash.AppendData(_readBuffer.AsSpan(0, read));
            BytesRead += read;
            budget -= read;
            if (ReadRate is not null)
            {
                _readAllowance -= read;
            }
        }
        if (Core.IsReadFinished && !_sawEndOfStream)
        {
            _sawEndOfStream = true;
            EndOfStreamTransitions++;
            ReadFinishedAt = now;
            ReceivedHash = _receivedHash.GetHashAndReset();
        }
        else if (!Core.IsReadFinished && _sawEndOfStream)
        {
            EndOfStreamTransitions++; // would mean end-of-stream was retracted
        }
    }
}
