namespace NatPunch.Discovery.Internal;

/// <summary>Which test of RFC 5780 §4 a probe belongs to.</summary>
internal enum ProbePurpose : byte
{
    /// <summary>§4.3 test I (also §4.4 test I): a plain Binding request to the server.</summary>
    BindingTest,
    /// <summary>§4.3 test II: to the alternate IP, primary port.</summary>
    MappingTest2,
    /// <summary>§4.3 test III: to the alternate IP and port.</summary>
    MappingTest3,
    /// <summary>§4.4 test II: CHANGE-REQUEST with change IP and change port.</summary>
    FilteringTest2,
    /// <summary>§4.4 test III: CHANGE-REQUEST with change port only.</summary>
    FilteringTest3,
    /// <summary>§4.5: a Binding request from the second socket, for its own mapped address.</summary>
    HairpinBind,
    /// <summary>§4.5: from one socket to the other one's mapped address; it must arrive there.</summary>
    Hairpinning,
    /// <summary>RFC 8489 §6.2.2: a Binding request over TCP.</summary>
    TcpBinding,
    /// <summary>§4.6: creates the mapping of one idle socket.</summary>
    LifetimeBind,
    /// <summary>§4.6: after the idle time, asks for a response to that socket's mapped port (RESPONSE-PORT).</summary>
    LifetimeCheck,
}
