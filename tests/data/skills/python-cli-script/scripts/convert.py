import csv
import json
import sys

if __name__ == "__main__":
    for row in csv.DictReader(open(sys.argv[1], encoding="utf-8")):
        print(json.dumps(row))
