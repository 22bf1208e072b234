"""Hand-made clusters shared by the htools tests (text format)."""

SMALL = """default|fake-uuid-01|preferred||

node1|4096|512|3000|102400|80000|8|N|fake-uuid-01|1
node2|4096|512|3500|102400|100000|8|N|fake-uuid-01|1
node3|4096|512|1000|102400|50000|8|M|fake-uuid-01|1

inst1|512|10240|2|running|Y|node1|node2|drbd||1
inst2|1024|20240|2|running|Y|node3|node1|drbd||1
inst3|1024|20240|1|ADMIN_down|Y|node3|node2|drbd||1
inst4|512|10000|1|running|Y|node3||plain||1


"""
#: Ganeti 3.0.2's hbal/hinfo print this initial score for SMALL.
SMALL_SCORE = "5.19732541"

SHARED = """default|g1|preferred||

n1|8192|512|3000|102400|50000|8|N|g1|1
n2|8192|512|8000|102400|100000|8|N|g1|1
n3|8192|512|8000|102400|100000|8|N|g1|1

a1|1000|5000|2|running|Y|n1||sharedfile||1
a2|1000|5000|2|running|Y|n1||sharedfile||1
a3|1000|5000|2|running|Y|n1||sharedfile||1
d1|1000|5000|2|running|Y|n3|n2|drbd||1


"""
