import csv
import json
import sys

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            print(json.dumps(row))
