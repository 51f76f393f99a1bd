#!/usr/bin/env python3
"""The remote side of tests/interop_pyln.rs: a Lightning peer written with pyln-proto, Core
Lightning's Python wire library, talking to a running switchyard node over TCP.

It performs the BOLT 8 Noise_XK handshake as initiator, exchanges BOLT 1 `init` messages (each
side's parsed with pyln's message codec), pings and waits for the pong, waits for the
`gossip_timestamp_filter` a BOLT 7 `gossip_queries` peer is sent, then sends a channel
announcement, both channel updates and a node announcement it signed itself, asks for the
node's gossip with its own `gossip_timestamp_filter` and checks that what comes back is
byte-for-byte what it sent. Prints one JSON object with what it saw; exits non-zero on any
mismatch.

Usage: pyln_peer.py NODE_ID_HEX HOST PORT CHAIN_HASH_HEX
"""

import hashlib
import io
import json
import sys
import time

import coincurve
from pyln.proto.message import Message, MessageNamespace
from pyln.proto.primitives import PrivateKey
from pyln.proto.wire import connect

# The messages used here, in the BOLTs' own CSV notation (BOLT 1 and BOLT 7).
CSV = """
msgtype,init,16
msgdata,init,gflen,u16,
msgdata,init,globalfeatures,byte,gflen
msgdata,init,flen,u16,
msgdata,init,features,byte,flen
msgdata,init,tlvs,init_tlvs,
tlvtype,init_tlvs,networks,1
tlvdata,init_tlvs,networks,chains,chain_hash,...
tlvtype,init_tlvs,remote_addr,3
tlvdata,init_tlvs,remote_addr,data,byte,...
msgtype,error,17
msgdata,error,channel_id,channel_id,
msgdata,error,len,u16,
msgdata,error,data,byte,len
msgtype,warning,1
msgdata,warning,channel_id,channel_id,
msgdata,warning,len,u16,
msgdata,warning,data,byte,len
msgtype,ping,18
msgdata,ping,num_pong_bytes,u16,
msgdata,ping,byteslen,u16,
msgdata,ping,ignored,byte,byteslen
msgtype,pong,19
msgdata,pong,byteslen,u16,
msgdata,pong,ignored,byte,byteslen
msgtype,channel_announcement,256
msgdata,channel_announcement,node_signature_1,signature,
msgdata,channel_announcement,node_signature_2,signature,
msgdata,channel_announcement,bitcoin_signature_1,signature,
msgdata,channel_announcement,bitcoin_signature_2,signature,
msgdata,channel_announcement,len,u16,
msgdata,channel_announcement,features,byte,len
msgdata,channel_announcement,chain_hash,chain_hash,
msgdata,channel_announcement,short_channel_id,short_channel_id,
msgdata,channel_announcement,node_id_1,point,
msgdata,channel_announcement,node_id_2,point,
msgdata,channel_announcement,bitcoin_key_1,point,
msgdata,channel_announcement,bitcoin_key_2,point,
msgtype,node_announcement,257
msgdata,node_announcement,signature,signature,
msgdata,node_announcement,flen,u16,
msgdata,node_announcement,features,byte,flen
msgdata,node_announcement,timestamp,u32,
msgdata,node_announcement,node_id,point,
msgdata,node_announcement,rgb_color,byte,3
msgdata,node_announcement,alias,byte,32
msgdata,node_announcement,addrlen,u16,
msgdata,node_announcement,addresses,byte,addrlen
msgtype,channel_update,258
msgdata,channel_update,signature,signature,
msgdata,channel_update,chain_hash,chain_hash,
msgdata,channel_update,short_channel_id,short_channel_id,
msgdata,channel_update,timestamp,u32,
msgdata,channel_update,message_flags,byte,
msgdata,channel_update,channel_flags,byte,
msgdata,channel_update,cltv_expiry_delta,u16,
msgdata,channel_update,htlc_minimum_msat,u64,
msgdata,channel_update,fee_base_msat,u32,
msgdata,channel_update,fee_proportional_millionths,u32,
msgdata,channel_update,htlc_maximum_msat,u64,
msgtype,query_channel_range,263
msgdata,query_channel_range,chain_hash,chain_hash,
msgdata,query_channel_range,first_blocknum,u32,
msgdata,query_channel_range,number_of_blocks,u32,
msgdata,query_channel_range,tlvs,query_channel_range_tlvs,
tlvtype,query_channel_range_tlvs,query_option,1
tlvdata,query_channel_range_tlvs,query_option,query_option_flags,bigsize,
msgtype,gossip_timestamp_filter,265
msgdata,gossip_timestamp_filter,chain_hash,chain_hash,
msgdata,gossip_timestamp_filter,first_timestamp,u32,
msgdata,gossip_timestamp_filter,timestamp_range,u32,
"""
NS = MessageNamespace([line for line in CSV.strip().split("\n") if line])

GOSSIP_QUERIES_OPTIONAL = 7
# An odd (optional) bit nobody assigns: a peer must accept it ("it's OK to be odd") and the
# test checks the node parsed exactly the feature bits we sent.
UNASSIGNED_OPTIONAL = 101


def fail(msg, **seen):
    print(json.dumps({"ok": False, "error": msg, **seen}), flush=True)
    sys.exit(1)


def encode(name, **fields):
    buf = io.BytesIO()
    Message(NS.get_msgtype(name), **fields).write(buf)
    return buf.getvalue()


def decode(raw):
    msg = Message.read(NS, io.BytesIO(raw))
    if msg is None:
        fail("empty message")
    return msg


def feature_bits(flags):
    """Bit numbers set in a BOLT 9 feature field (big-endian bytes)."""
    n = int.from_bytes(flags, "big") if flags else 0
    return [b for b in range(n.bit_length()) if n >> b & 1]


def feature_bytes(bits):
    n = 0
    for b in bits:
        n |= 1 << b
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def sign(key, data):
    """Compact (r || s) ECDSA signature of sha256d(data), low-s as BOLT 7 requires."""
    rec = key.sign_recoverable(sha256d(data), hasher=None)
    return rec[:64]


def key(byte):
    return coincurve.PrivateKey(bytes([byte]) * 32)


def point(k):
    return k.public_key.format(compressed=True)


def main():
    node_id, host, port, chain_hex = sys.argv[1:5]
    chain = bytes.fromhex(chain_hex)
    me = PrivateKey(bytes([0x42]) * 32)
    conn = connect(me, bytes.fromhex(node_id), host, int(port))
    conn.connection.settimeout(30)
    seen = {"handshake": True, "received": []}

    def recv():
        raw = conn.read_message()
        msg = decode(raw)
        seen["received"].append(msg.messagetype.name)
        if msg.messagetype.name == "ping":
            n = msg.fields["num_pong_bytes"]
            conn.send_message(encode("pong", byteslen=n, ignored=bytes(n)))
        if msg.messagetype.name in ("error", "warning"):
            fail("peer sent " + msg.messagetype.name, data=bytes(msg.fields["data"]).decode(errors="replace"), **seen)
        return raw, msg

    # BOLT 1: init first, both ways.
    _, their_init = recv()
    if their_init.messagetype.name != "init":
        fail("first message is not init", **seen)
    their_bits = feature_bits(bytes(their_init.fields["features"]))
    seen["their_features"] = their_bits
    networks = their_init.fields.get("tlvs", {}).get("networks")
    if networks is not None:
        chains = [bytes(c) for c in networks["chains"]]
        seen["their_networks"] = [c.hex() for c in chains]
        if chain not in chains:
            fail("node does not announce our chain", **seen)
    if GOSSIP_QUERIES_OPTIONAL not in their_bits and GOSSIP_QUERIES_OPTIONAL - 1 not in their_bits:
        fail("node does not offer gossip_queries", **seen)
    # Support (as optional) everything the node requires, plus gossip_queries and an odd bit.
    ours = sorted({GOSSIP_QUERIES_OPTIONAL, UNASSIGNED_OPTIONAL} | {b | 1 for b in their_bits if b % 2 == 0})
    sent_features = feature_bytes(ours)
    seen["sent_features"] = sent_features.hex()
    conn.send_message(encode("init", globalfeatures=b"", features=sent_features,
                             tlvs={"networks": {"chains": [chain]}}))

    # BOLT 1 ping / pong, and BOLT 7's gossip_timestamp_filter for a gossip_queries peer.
    conn.send_message(encode("ping", num_pong_bytes=16, ignored=bytes(8)))
    deadline = time.time() + 30
    got_pong = got_filter = False
    while not (got_pong and got_filter):
        if time.time() > deadline:
            fail("no pong and gossip_timestamp_filter within 30 s", **seen)
        _, msg = recv()
        name = msg.messagetype.name
        if name == "pong":
            if len(bytes(msg.fields["ignored"])) != 16:
                fail("pong of the wrong length", **seen)
            got_pong = True
        elif name == "gossip_timestamp_filter":
            if bytes(msg.fields["chain_hash"]) != chain:
                fail("gossip_timestamp_filter for another chain", **seen)
            got_filter = True

    # BOLT 7 gossip, signed here: one channel, both directions, one node announcement.
    n1, n2, b1, b2 = key(0x51), key(0x52), key(0x53), key(0x54)
    if point(n1) > point(n2):
        n1, n2 = n2, n1
    scid = "700x1x0"
    ann_fields = dict(features=b"", chain_hash=chain, short_channel_id=scid,
                      node_id_1=point(n1), node_id_2=point(n2),
                      bitcoin_key_1=point(b1), bitcoin_key_2=point(b2))
    unsigned = encode("channel_announcement", node_signature_1=bytes(64), node_signature_2=bytes(64),
                      bitcoin_signature_1=bytes(64), bitcoin_signature_2=bytes(64), **ann_fields)
    signed_part = unsigned[2 + 4 * 64:]
    announcement = encode("channel_announcement",
                          node_signature_1=sign(n1, signed_part), node_signature_2=sign(n2, signed_part),
                          bitcoin_signature_1=sign(b1, signed_part), bitcoin_signature_2=sign(b2, signed_part),
                          **ann_fields)
    now = int(time.time())
    updates = []
    for direction, k, fee_ppm in ((0, n1, 111), (1, n2, 222)):
        fields = dict(chain_hash=chain, short_channel_id=scid, timestamp=now, message_flags=1,
                      channel_flags=direction, cltv_expiry_delta=42, htlc_minimum_msat=1000,
                      fee_base_msat=1500, fee_proportional_millionths=fee_ppm,
                      htlc_maximum_msat=500_000_000)
        body = encode("channel_update", signature=bytes(64), **fields)[2 + 64:]
        updates.append(encode("channel_update", signature=sign(k, body), **fields))
    alias = b"pyln-interop".ljust(32, b"\0")
    node_fields = dict(features=b"", timestamp=now, node_id=point(n1), rgb_color=b"\x12\x34\x56",
                       alias=alias, addresses=b"")
    body = encode("node_announcement", signature=bytes(64), **node_fields)[2 + 64:]
    node_ann = encode("node_announcement", signature=sign(n1, body), **node_fields)
    sent = [announcement, *updates, node_ann]
    for m in sent:
        conn.send_message(m)
    # Ask for the node's gossip from the beginning of time; a pong after it means the node
    # handled everything before the ping.
    conn.send_message(encode("gossip_timestamp_filter", chain_hash=chain, first_timestamp=0,
                             timestamp_range=0xFFFFFFFF))
    conn.send_message(encode("ping", num_pong_bytes=4, ignored=b""))

    # The node relays its graph to a peer that set a filter: our messages, as we sent them.
    echoed = {}
    deadline = time.time() + 30
    while len(echoed) < len(sent):
        if time.time() > deadline:
            fail("gossip not sent back within 30 s", echoed=sorted(echoed), **seen)
        raw, msg = recv()
        if raw in sent:
            echoed[sent.index(raw)] = msg.messagetype.name
    seen["echoed"] = [echoed[i] for i in range(len(sent))]
    seen["sent_gossip"] = {
        "channel_announcement": announcement.hex(),
        "channel_updates": [u.hex() for u in updates],
        "node_announcement": node_ann.hex(),
        "scid": scid,
        "timestamp": now,
        "node_id_1": point(n1).hex(),
        "our_node_id": me.public_key().serializeCompressed().hex(),
    }
    seen["ok"] = True
    print(json.dumps(seen), flush=True)
    # Stay connected until the test has looked at the node's side of the connection.
    try:
        sys.stdin.read()
    finally:
        conn.connection.close()


if __name__ == "__main__":
    main()
