"""Message classes from the build's descriptor set (proto/otlp.desc, made by
protoc-c at build time), so the Python test clients need no protoc and no
generated code."""
import os

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def messages(build, *names):
    """The classes of the fully qualified message @p names, in order."""
    fds = descriptor_pb2.FileDescriptorSet()
    with open(os.path.join(build, "proto/otlp.desc"), "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return [factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names]
