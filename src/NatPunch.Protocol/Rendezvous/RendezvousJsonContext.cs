using System.Text.Json.Serialization;

namespace NatPunch.Protocol.Rendezvous;

/// <summary>Source-generated JSON for the rendezvous messages: snake_case names, no nulls written.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(RendezvousMessage))]
internal sealed partial class RendezvousJsonContext : JsonSerializerContext;
