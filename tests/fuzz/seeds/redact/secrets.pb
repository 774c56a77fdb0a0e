
	
*call api_key=SECRET00000001J'
cfg 
{"api_key": "sk-abcdefgh1234"}Z3ev-
a(
&Authorization: Bearer abcdefgh12345678j%k=v"
l
password=hunter2hunter2zana@example.comJ
svc.api_key
x