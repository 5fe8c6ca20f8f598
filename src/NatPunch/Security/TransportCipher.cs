namespace NatPunch.Security;

/// <summary>
/// The AEAD that seals a session's datagrams after the handshake. The handshake itself always uses
/// ChaCha20-Poly1305 (its Noise protocol name says so); the transport uses AES-256-GCM when both
/// sides offer it in their handshake payloads (they do where the CPU has AES and carry-less
/// multiply instructions: libsodium's AES-GCM is then about three times as fast per datagram),
/// and ChaCha20-Poly1305 otherwise, or with a peer that offers nothing (docs/security.md).
/// </summary>
public enum TransportCipher
{
    ChaCha20Poly1305 = 0,
    Aes256Gcm = 1,
}
