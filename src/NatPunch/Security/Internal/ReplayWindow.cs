namespace NatPunch.Security.Internal;

/// <summary>
/// The sliding anti-replay window of RFC 6479: a ring of 64-bit blocks, so that moving the window
/// clears whole blocks instead of shifting bits. Counters more than <see cref="Size"/> behind the
/// highest one seen are refused, as is any counter seen before. <see cref="CanAccept"/> is asked
/// before decrypting (cheap refusal), <see cref="Accept"/> only after the datagram authenticated,
/// so a forgery cannot move the window. Not thread-safe: its owner locks.
/// </summary>
internal sealed class ReplayWindow
{
    private const int BlockBits = 64;
    private const int Blocks = 32; // a power of two
    /// <summary>RFC 6479 §2: one block is kept spare, so the usable window is (blocks - 1) × 64.</summary>
    public const int Size = (Blocks - 1) * BlockBits;

    private readonly ulong[] _bitmap = new ulong[Blocks];
    private ulong _highest;
    private bool _any;

    public ulong Highest => _highest;

    public bool CanAccept(ulong counter)
    {
        if (!_any || counter > _highest)
        {
            return true;
        }
        if (_highest - counter >= Size)
        {
            return false; // too old to tell
        }
        return (_bitmap[(int)(counter / BlockBits) & (Blocks - 1)] & (1UL << (int)(counter % BlockBits))) == 0;
    }

    /// <summary>Records an authenticated counter; false if it was a replay after all.</summary>
    public bool Accept(ulong counter)
    {
        if (!CanAccept(counter))
        {
            return false;
        }
        if (!_any || counter > _highest)
        {
            ulong current = _any ? _highest / BlockBits : 0;
            ulong target = counter / BlockBits;
            ulong clear = _any ? Math.Min(target - current, Blocks) : Blocks;
            for (ulong i = 1; i <= clear; i++)
            {
                _bitmap[(int)((current + i) & (Blocks - 1))] = 0;
            }
            _highest = counter;
            _any = true;
        }
        _bitmap[(int)(counter / BlockBits) & (Blocks - 1)] |= 1UL << (int)(counter % BlockBits);
        return true;
    }
}
