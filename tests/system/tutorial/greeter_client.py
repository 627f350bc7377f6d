# The tutorial's TCP greeter client, unchanged but for where it connects
# (host and port come from argv so the tests can pick a free port).
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
host = sys.argv[1]
port = int(sys.argv[2])
s.connect((host, port))
msg = s.recv(1024)
s.close()
print(msg.decode('utf-8'))
